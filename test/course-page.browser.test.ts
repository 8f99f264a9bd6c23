import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import request from 'supertest';
import { startApiHarness, type ApiHarness } from '@kap/testkit/api-harness';
import { runCourseScenario, type CourseScenario } from '@kap/testkit/course-scenario';
import { startTestIssuer, type TestIssuer } from '@kap/testkit/tokens';

/**
 * The course page in a real browser: Debian's `chromium` driven by playwright-core (which
 * cannot download browsers here). Without Chromium this test fails and says what to install.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CLINIC_ZONE = 'America/Los_Angeles';
const OUTPUT_DIR = join(__dirname, '..', 'test-output');
let issuer: TestIssuer;
let TOKEN: string;

let h: ApiHarness;
let server: Server;
let base: string;
let browser: Browser;
let scenario: CourseScenario;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium was not found at ${CHROMIUM}. The course-page browser test needs it: install Debian's package with ` +
        '`apt-get install -y chromium` (scripts/ensure-services.sh does this), or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  issuer = await startTestIssuer();
  TOKEN = await issuer.mint({ scope: 'kap/v1.read kap/v1.write', sub: 'clinician-page-test' });
  // The clinic is in Los Angeles; the browsers below are elsewhere.
  h = await startApiHarness({ env: { ...issuer.env(), CLINIC_TIME_ZONE: CLINIC_ZONE } });
  server = h.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  scenario = await runCourseScenario(h.app, { token: TOKEN });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await h?.close();
  await issuer?.close();
});

// A real browser on a machine shared with other test runs: generous, never a timing assertion.
jest.setTimeout(120_000);

describe('the course page in Chromium', () => {
  it('asks for a token, then shows alerts first, the timeline and both charts with the right points', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      // The first requests go without a token and are refused: that is how the page knows to ask.
      if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text());
    });
    await page.goto(`${base}/courses/${scenario.courseId}`);
    // Authentication is on: the page asks for a token and keeps it in memory.
    await page.getByLabel('Access token').waitFor();
    await page.getByLabel('Access token').fill(TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-ready="true"]');

    // Safety alerts come first, and the self-harm one is there.
    const sections = await page.$$eval('#course > section h2', (hs) => hs.map((x) => x.textContent));
    expect(sections[0]).toBe('Safety alerts');
    const alerts = await page.$$eval('.alert-item', (items) => items.map((x) => x.textContent ?? ''));
    expect(alerts.some((a) => /PHQ-9 item 9/.test(a))).toBe(true);
    expect(alerts.some((a) => /Blood pressure/.test(a))).toBe(true);

    // The timeline, in time order: screening, start, sessions, measures, follow-ups, goals, stop.
    const kinds = await page.$$eval('#timeline > li', (lis) => lis.map((li) => li.getAttribute('data-kind')));
    expect(kinds[0]).toBe('screening');
    expect(kinds[1]).toBe('start');
    expect(kinds[kinds.length - 1]).toBe('stop');
    expect(kinds.filter((k) => k === 'session')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'measure')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'follow-up')).toHaveLength(6);
    expect(kinds).toContain('goals');
    const timeline = (await page.textContent('#timeline')) ?? '';
    expect(timeline).toMatch(/Intramuscular route/);
    expect(timeline).toMatch(/Sublingual route/);
    expect(timeline).toMatch(/Low dose/);
    expect(timeline).toMatch(/Moderate dose/);
    expect(timeline).toMatch(/Completed/);
    expect(timeline).toMatch(/Cancelled/);
    expect(await page.textContent('#goals')).toMatch(/Remain at home/);

    // Both charts draw exactly the outcome totals, baseline first, over their bands.
    // Evaluated in the page (as strings: these tests compile without the DOM library).
    const inPage = <T>(expression: string): Promise<T> => page.evaluate(expression) as Promise<T>;
    const chartData = (id: string) => `Chart.getChart(document.getElementById('${id}')).data.datasets.map((d) => d.data)`;
    const [phq9Points] = await inPage<number[][]>(chartData('phq9-chart'));
    const [gad7Points] = await inPage<number[][]>(chartData('gad7-chart'));
    const points = { phq9: phq9Points, gad7: gad7Points };
    expect(points).toEqual({ phq9: scenario.phq9, gad7: scenario.gad7 });
    // The text alternative says the same.
    const tableTotals = await page.$$eval('#phq9-table tbody td.num', (tds) => tds.map((td) => Number(td.textContent)));
    expect(tableTotals).toEqual(scenario.phq9);
    expect(await page.getAttribute('#phq9-chart', 'aria-label')).toMatch(/Baseline \(screening\) 17/);
    expect(await page.textContent('#phq9-change')).toMatch(/−11 since baseline \(clinically meaningful fall\)/);
    // Session 1's vitals chart has the reading above the threshold.
    const vitals = await inPage<number[][]>(chartData('vitals-chart-1'));
    expect(vitals[0]).toEqual([142, 184, 156, 138]);
    expect(vitals[3]).toEqual([180, 180, 180, 180]);

    // Keyboard: the skip link leads to the course, and a vitals table opens with Enter.
    expect(await inPage<string>(`document.querySelector('a, button, input, summary, [tabindex="0"]').textContent`)).toMatch(/Skip to the course/);
    await page.focus('.skip');
    await page.keyboard.press('Enter');
    expect(await inPage<string>('document.activeElement.id')).toBe('main');
    await page.focus('#timeline details summary');
    await page.keyboard.press('Enter');
    expect(await inPage<boolean>(`document.querySelector('#timeline details').hasAttribute('open')`)).toBe(true);

    expect(errors).toEqual([]);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'course-page.png'), fullPage: true });
    // What a clinician sees first, without scrolling.
    await inPage('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(OUTPUT_DIR, 'course-page-first-screen.png') });
    await page.close();
  });

  it("shows times in the clinic's zone, naming it, in a browser elsewhere, and acknowledges an alert", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'Pacific/Kiritimati' });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/courses/${scenario.courseId}`);
    await page.getByLabel('Access token').fill(TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.textContent('#summary')).toMatch(/Times shown in\s*America\/Los_Angeles \(the clinic's time zone\)/);

    const view = await request(h.app).get(`/v1/courses/${scenario.courseId}`).set('Authorization', `Bearer ${TOKEN}`).expect(200);
    const selfHarm = (view.body.alerts as { code: string; at: string; alert: { id: string; status: string } }[]).find((a) => a.code === 'phq9-self-harm');
    expect(selfHarm?.alert.status).toBe('open');
    const inClinic = new Date(selfHarm?.at as string).toLocaleString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: CLINIC_ZONE });
    const item = page.locator('.alert-item.alert-safety');
    expect(await item.locator('.alert-when').textContent()).toBe(`${inClinic} (America/Los_Angeles)`);
    expect(await item.textContent()).toMatch(/Open: not acknowledged/);

    await item.getByLabel('Acknowledged by').fill('Dr. Page Test');
    await item.getByLabel('Note (optional)').fill('Phoned the patient');
    await item.getByRole('button', { name: 'Acknowledge' }).click();
    await page.waitForSelector('.alert-item.alert-safety[data-alert-status="acknowledged"]');
    expect(await page.locator('.alert-item.alert-safety .alert-state').textContent()).toMatch(/Acknowledged by Dr\. Page Test at .*\(America\/Los_Angeles\)/);
    // The form is gone once acknowledged; the API agrees.
    expect(await page.locator('.alert-item.alert-safety form').count()).toBe(0);
    const alerts = await request(h.app).get('/v1/alerts?status=acknowledged').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    expect(alerts.body.alerts.find((a: { id: string }) => a.id === selfHarm?.alert.id)).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: 'Dr. Page Test',
      history: [expect.objectContaining({ event: 'raised' }), expect.objectContaining({ event: 'acknowledged', note: 'Phoned the patient' })],
    });
    expect(errors).toEqual([]);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'course-page-alert-acknowledged.png'), fullPage: true });
    await page.close();
  });

  it('renders the API docs (swagger-ui) under the security headers, with nothing blocked', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    const res = await page.goto(`${base}/docs/`);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    await page.waitForSelector('.swagger-ui .info .title');
    expect(await page.textContent('.swagger-ui .info .title')).toMatch(/KAP FHIR adapter/);
    // The operations come from /openapi.json, fetched by the page's own script.
    await page.waitForSelector('.opblock');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('says plainly when the token is wrong, and shows nothing of the course', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/courses/${scenario.courseId}`);
    await page.getByLabel('Access token').fill('not-the-token');
    await page.getByRole('button', { name: 'Show the course' }).click();
    await page.getByText('That token was not accepted.').waitFor();
    expect(await page.isHidden('#course')).toBe(true);
    await page.close();
  });
});
