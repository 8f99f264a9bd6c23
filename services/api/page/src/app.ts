import { KapApiError, type KapClient } from '@kap/client';
import { clinicFormat } from './format';
import {
  INSTRUMENTS,
  outcomesHint,
  renderAlerts,
  renderGoals,
  renderHeader,
  renderScores,
  renderSummary,
  renderTimeline,
  type ChartSpec,
} from './render';
import type { CourseDetail, Outcomes } from './types';

/** The API calls the page makes, as @kap/client types them. */
export type PageApi = Pick<KapClient, 'getCourse' | 'getCourseOutcomes' | 'acknowledgeAlert'>;

/** Draws the charts the page describes; charts drawn before are replaced on every render. */
export interface ChartDrawer {
  draw(charts: readonly ChartSpec[]): void;
}

export interface CoursePageOptions {
  readonly courseId: string;
  /** Makes the API client; `token` is what the user pasted, asked for on every request. */
  readonly api: (token: () => string | undefined) => PageApi;
  readonly charts?: ChartDrawer;
  readonly now?: () => number;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the course page has no #${id}`);
  return node as T;
}

/** What to tell the user about a failed call: the OperationOutcome's diagnostics when there is one. */
export function reasonOf(err: unknown): string {
  if (err instanceof KapApiError) return err.outcome?.issue[0]?.diagnostics ?? `HTTP ${err.status}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs the page in the current document (course.html): loads the course and its outcomes,
 * asks for a token when the API refuses without one, and renders. The token lives in this
 * closure only: never stored, so reloading the page forgets it. Resolves once the first load settled.
 */
export function startCoursePage(options: CoursePageOptions): Promise<void> {
  const { courseId } = options;
  const now = options.now ?? Date.now;
  let token: string | undefined;
  const api = options.api(() => token);
  const status = byId('status');
  const tokenForm = byId<HTMLFormElement>('token-form');
  const tokenInput = byId<HTMLInputElement>('token');

  const setStatus = (text: string): void => {
    status.textContent = text;
    status.hidden = !text;
  };

  const acknowledge = async (alertId: string, body: { by: string; note?: string }): Promise<void> => {
    try {
      await api.acknowledgeAlert({ path: { id: alertId }, body });
    } catch (err) {
      throw new Error(err instanceof KapApiError && err.status === 403 ? 'This token may not acknowledge alerts.' : reasonOf(err));
    }
    await load();
  };

  const render = (course: CourseDetail, outcomes: Outcomes): void => {
    const fmt = clinicFormat(course.timeZone || 'UTC');
    const header = renderHeader(course, fmt);
    byId('title').textContent = header.title;
    document.title = header.title;
    byId('subtitle').textContent = header.subtitle;
    byId('course').hidden = false;

    const alerts = renderAlerts(course, fmt, acknowledge);
    const alertsSection = byId('alerts');
    alertsSection.classList.toggle('has-alerts', course.alerts.length > 0);
    if (alerts.safety) alertsSection.setAttribute('role', 'alert');
    else alertsSection.removeAttribute('role');
    byId('alerts-body').replaceChildren(...alerts.nodes);

    byId('summary').replaceChildren(...renderSummary(course, outcomes, fmt));
    byId('outcomes-hint').textContent = outcomesHint();
    const scores = INSTRUMENTS.map((k) => renderScores(k, outcomes, fmt));
    byId('charts').replaceChildren(...scores.map((s) => s.figure));
    const timeline = renderTimeline(course, fmt, now());
    byId('timeline').replaceChildren(...timeline.items);
    byId('goals').replaceChildren(...renderGoals(course, fmt));
    // The canvases are in the document now, so the charts can size themselves.
    options.charts?.draw([...scores.map((s) => s.chart), ...timeline.charts]);
    document.body.setAttribute('data-ready', 'true');
  };

  const load = async (): Promise<void> => {
    setStatus('Loading the course…');
    try {
      const [course, outcomes] = await Promise.all([
        api.getCourse({ path: { id: courseId } }),
        api.getCourseOutcomes({ path: { id: courseId } }),
      ]);
      tokenForm.hidden = true;
      setStatus('');
      render(course, outcomes);
    } catch (err) {
      const code = err instanceof KapApiError ? err.status : undefined;
      if (code === 401 || code === 403) {
        setStatus('');
        tokenForm.hidden = false;
        byId('token-error').textContent = token ? (code === 401 ? 'That token was not accepted.' : 'That token may not read courses.') : '';
        tokenInput.focus();
        return;
      }
      setStatus(code === 404 ? `There is no course ${courseId}.` : `The course could not be loaded: ${reasonOf(err)}`);
    }
  };

  tokenForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = tokenInput.value.trim() || undefined;
    tokenInput.value = '';
    void load();
  });
  return load();
}

/** The course id of a page at `/courses/{id}`. */
export function courseIdOf(pathname: string): string {
  return decodeURIComponent(pathname.split('/').filter(Boolean).pop() ?? '');
}
