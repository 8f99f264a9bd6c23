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
  // The page's rendering and behaviour are unit-tested in jsdom (services/api/page/src/*.test.ts);
  // this is the one check that the built bundle runs in a real browser against the real API.
  it('asks for a token, then loads a real course and shows its key figures, charts drawn, nothing blocked, and acknowledges an alert', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: 'Pacific/Kiritimati' });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      // The first requests go without a token and are refused: that is how the page knows to ask.
      if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text());
    });
    const res = await page.goto(`${base}/courses/${scenario.courseId}`);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    await page.getByLabel('Access token').fill(TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-ready="true"]');

    const sections = await page.$$eval('#course > section h2', (hs) => hs.map((x) => x.textContent));
    expect(sections[0]).toBe('Safety alerts');
    expect(await page.locator('.alert-item.alert-safety').count()).toBe(1);
    const summary = (await page.textContent('#summary')) ?? '';
    expect(summary).toMatch(/PHQ-9 now\s*6 \(Mild\), −11 since baseline/);
    expect(summary).toMatch(/GAD-7 now\s*5 \(Mild\), −9 since baseline/);
    // A browser in another zone shows the clinic's times.
    expect(summary).toMatch(/Times shown in\s*America\/Los_Angeles \(the clinic's time zone\)/);
    const totals = (table: string) => page.$$eval(`${table} tbody td.num`, (tds) => tds.map((td) => Number(td.textContent)));
    expect({ phq9: await totals('#phq9-table'), gad7: await totals('#gad7-table') }).toEqual({ phq9: scenario.phq9, gad7: scenario.gad7 });
    const kinds = await page.$$eval('#timeline > li', (lis) => lis.map((li) => li.getAttribute('data-kind')));
    expect(kinds.filter((k) => k === 'session')).toHaveLength(2);

    // Chart.js, bundled into the page's script, drew on every canvas (evaluated as a string: these tests compile without the DOM library).
    const inked = (id: string): Promise<number> =>
      page.evaluate(
        `(() => { const c = document.getElementById('${id}'); const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;` +
          ' let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++; return n; })()',
      ) as Promise<number>;
    for (const id of ['phq9-chart', 'gad7-chart', 'vitals-chart-1', 'vitals-chart-2']) expect(await inked(id)).toBeGreaterThan(1000);

    // The one write the page makes, through @kap/client on the real wire (token, Idempotency-Key, JSON body).
    const item = page.locator('.alert-item.alert-safety');
    await item.getByLabel('Acknowledged by').fill('Dr. Page Test');
    await item.getByLabel('Note (optional)').fill('Phoned the patient');
    await item.getByRole('button', { name: 'Acknowledge' }).click();
    await page.waitForSelector('.alert-item.alert-safety[data-alert-status="acknowledged"]');
    const alerts = await request(h.app).get('/v1/alerts?status=acknowledged').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    expect(alerts.body.alerts).toEqual([
      expect.objectContaining({
        kind: 'phq9-self-harm',
        acknowledgedBy: 'Dr. Page Test',
        history: [
          expect.objectContaining({ event: 'raised' }),
          expect.objectContaining({ event: 'acknowledged', note: 'Phoned the patient' }),
        ],
      }),
    ]);

    expect(errors).toEqual([]);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'course-page.png'), fullPage: true });
    await page.close();
  });
});

describe('the API docs in Chromium', () => {
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
});
