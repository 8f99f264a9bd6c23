/**
 * @jest-environment jsdom
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KapApiError } from '@kap/client';
import { courseIdOf, startCoursePage, type ChartDrawer, type PageApi } from './app';
import { courseFixture } from './fixtures/course';
import type { ChartSpec } from './render';

/**
 * The page's behaviour in course.html, against a stand-in for the API that answers what the
 * API answers (the recorded course, KapApiErrors with OperationOutcomes). That the real API
 * and a real browser agree is test/course-page.browser.test.ts's job.
 */
const HTML = readFileSync(join(__dirname, '..', '..', 'static', 'course.html'), 'utf8');
const TOKEN = 'the-right-token';

function loadHtml(): void {
  const parsed = new DOMParser().parseFromString(HTML, 'text/html');
  document.replaceChild(document.importNode(parsed.documentElement, true), document.documentElement);
}

const outcome = (diagnostics: string) => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'processing', diagnostics }],
});

/** The API as the page sees it: needs TOKEN, may read, and may write unless `mayWrite` is false. */
function fakeApi(options: { mayWrite?: boolean; getCourse?: () => Promise<never> } = {}) {
  const state = courseFixture();
  const calls: { op: string; token: string | undefined; args: unknown }[] = [];
  const make = (token: () => string | undefined): PageApi => {
    const gate = (op: string, method: string, path: string, args: unknown): void => {
      calls.push({ op, token: token(), args });
      if (token() === undefined) throw new KapApiError(401, method, path, outcome('no token'), undefined);
      if (token() !== TOKEN) throw new KapApiError(401, method, path, outcome('bad token'), undefined);
    };
    return {
      getCourse: async (args) => {
        gate('getCourse', 'get', `/v1/courses/${args.path.id}`, args);
        if (options.getCourse) return options.getCourse();
        if (args.path.id !== state.course.courseId)
          throw new KapApiError(404, 'get', `/v1/courses/${args.path.id}`, outcome('no such course'), undefined);
        return state.course;
      },
      getCourseOutcomes: async (args) => {
        gate('getCourseOutcomes', 'get', `/v1/courses/${args.path.id}/outcomes`, args);
        return state.outcomes;
      },
      acknowledgeAlert: async (args) => {
        gate('acknowledgeAlert', 'post', `/v1/alerts/${args.path.id}/acknowledge`, args);
        if (options.mayWrite === false)
          throw new KapApiError(403, 'post', `/v1/alerts/${args.path.id}/acknowledge`, outcome('scope'), 'key-1');
        const item = state.course.alerts.find((a) => a.alert?.id === args.path.id);
        if (!item?.alert) throw new KapApiError(404, 'post', `/v1/alerts/${args.path.id}/acknowledge`, outcome('no such alert'), 'key-1');
        item.alert = {
          ...item.alert,
          status: 'acknowledged',
          acknowledgedBy: args.body.by,
          acknowledgedAt: '2026-12-07T05:10:00Z',
          nextEscalationAt: null,
        };
        return item.alert;
      },
    };
  };
  return { make, calls, state };
}

const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => {
  const node = document.querySelector<T>(selector);
  if (!node) throw new Error(`no ${selector}`);
  return node;
};
const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};
function submitToken(value: string): void {
  $<HTMLInputElement>('#token').value = value;
  $('#token-form').dispatchEvent(new Event('submit', { cancelable: true }));
}

beforeEach(() => loadHtml());

describe('the course page', () => {
  it('asks for a token when the API wants one, keeps it in memory only, and then shows the course', async () => {
    const api = fakeApi();
    const drawn: [ChartSpec['kind'], boolean][][] = [];
    const charts: ChartDrawer = { draw: (specs) => drawn.push(specs.map((s) => [s.kind, s.canvas.isConnected])) };
    await startCoursePage({ courseId: 'id-001', api: api.make, charts });
    expect($('#token-form').hidden).toBe(false);
    expect($('#token-error').textContent).toBe('');
    expect($('#course').hidden).toBe(true);
    expect(document.activeElement).toBe($('#token'));

    submitToken(`  ${TOKEN} `);
    await settle();
    expect($<HTMLInputElement>('#token').value).toBe('');
    expect(api.calls.filter((c) => c.token === TOKEN).map((c) => c.op)).toEqual(['getCourse', 'getCourseOutcomes']);
    expect(document.body.dataset.ready).toBe('true');
    expect($('#token-form').hidden).toBe(true);
    expect($('#status').hidden).toBe(true);
    expect($('#course').hidden).toBe(false);
    expect(document.title).toBe('Test Synthetic · KAP course');
    expect(localStorage.length + sessionStorage.length).toBe(0);
    expect(document.cookie).toBe('');

    // Safety alerts come first; the self-harm one makes the section an alert.
    expect([...document.querySelectorAll('#course > section h2')].map((h) => h.textContent)[0]).toBe('Safety alerts');
    expect($('#alerts').getAttribute('role')).toBe('alert');
    expect($('#alerts').classList.contains('has-alerts')).toBe(true);
    expect([...document.querySelectorAll('#phq9-table tbody td.num')].map((td) => Number(td.textContent))).toEqual([17, 12, 8, 6]);
    expect($('#outcomes-hint').textContent).toMatch(/A fall of 5 or more PHQ-9 points/);
    // Every chart drawn once, on a canvas already in the page.
    expect(drawn).toHaveLength(1);
    expect(drawn[0]).toEqual([
      ['score', true],
      ['score', true],
      ['vitals', true],
      ['vitals', true],
    ]);
  });

  it('says plainly when the token is wrong or may not read courses, and shows nothing of the course', async () => {
    const api = fakeApi();
    await startCoursePage({ courseId: 'id-001', api: api.make });
    submitToken('not-the-token');
    await settle();
    expect($('#token-error').textContent).toBe('That token was not accepted.');
    expect($('#course').hidden).toBe(true);

    loadHtml();
    const forbidden = fakeApi({
      getCourse: () => Promise.reject(new KapApiError(403, 'get', '/v1/courses/id-001', outcome('scope'), undefined)),
    });
    await startCoursePage({ courseId: 'id-001', api: forbidden.make });
    submitToken(TOKEN);
    await settle();
    expect($('#token-error').textContent).toBe('That token may not read courses.');
    expect($('#course').hidden).toBe(true);
  });

  it('names a course that is not there, and passes on the reason the API gave for any other failure', async () => {
    await startCoursePage({ courseId: 'nope', api: (t) => fakeApi().make(() => t() ?? TOKEN) });
    expect($('#status').textContent).toBe('There is no course nope.');
    expect($('#course').hidden).toBe(true);

    loadHtml();
    const broken = fakeApi({
      getCourse: () => Promise.reject(new KapApiError(500, 'get', '/v1/courses/id-001', outcome('the database is down'), undefined)),
    });
    await startCoursePage({ courseId: 'id-001', api: (t) => broken.make(() => t() ?? TOKEN) });
    expect($('#status').textContent).toBe('The course could not be loaded: the database is down');
  });

  it("acknowledges an open alert with the clinician's name and note, then shows it acknowledged without the form", async () => {
    const api = fakeApi();
    await startCoursePage({ courseId: 'id-001', api: (t) => api.make(() => t() ?? TOKEN) });
    const item = $('.alert-item.alert-safety');
    const [by, note] = [...item.querySelectorAll('input')];
    by!.value = 'Dr. Page Test';
    note!.value = 'Phoned the patient';
    item.querySelector('form')!.dispatchEvent(new Event('submit', { cancelable: true }));
    await settle();
    expect(api.calls.find((c) => c.op === 'acknowledgeAlert')?.args).toEqual({
      path: { id: 'id-089' },
      body: { by: 'Dr. Page Test', note: 'Phoned the patient' },
    });
    const after = $('.alert-item.alert-safety');
    expect(after.dataset.alertStatus).toBe('acknowledged');
    expect(after.querySelector('.alert-state')?.textContent).toBe(
      'Acknowledged by Dr. Page Test at 6 Dec 2026, 21:10 (America/Los_Angeles).',
    );
    expect(after.querySelectorAll('form')).toHaveLength(0);
  });

  it('says when the token may not acknowledge, and leaves the form to try again', async () => {
    const api = fakeApi({ mayWrite: false });
    await startCoursePage({ courseId: 'id-001', api: (t) => api.make(() => t() ?? TOKEN) });
    const form = $('.alert-item.alert-safety form');
    form.querySelector('input')!.value = 'Dr. Page Test';
    form.dispatchEvent(new Event('submit', { cancelable: true }));
    await settle();
    expect(form.querySelector('.error')?.textContent).toBe('Not acknowledged: This token may not acknowledge alerts.');
    expect(form.querySelector('button')?.disabled).toBe(false);
    expect($('.alert-item.alert-safety').dataset.alertStatus).toBe('open');
  });

  it('is reachable by keyboard: the skip link comes first and leads to the focusable main', () => {
    const focusable = document.querySelector('a, button, input, summary, [tabindex="0"]');
    expect(focusable?.textContent).toBe('Skip to the course');
    expect(focusable?.getAttribute('href')).toBe('#main');
    expect($('#main').getAttribute('tabindex')).toBe('-1');
    // One script, same-origin, deferred: the CSP allows no inline script.
    expect([...document.querySelectorAll('script')].map((s) => [s.getAttribute('src'), s.defer, s.textContent])).toEqual([
      ['/assets/course-page.js', true, ''],
    ]);
  });

  it('reads the course id from its address', () => {
    expect(courseIdOf('/courses/id-001')).toBe('id-001');
    expect(courseIdOf('/courses/a%20b%2Fc')).toBe('a b/c');
  });
});
