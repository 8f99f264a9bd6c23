import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router, type Response } from 'express';

/**
 * The clinicians' course page (`GET /courses/{id}`), served by the API itself. The HTML and
 * scripts hold no patient data, so they are served without a token; the page fetches the
 * course from `/v1`, which needs one when authentication is on (the user pastes it into the
 * page, which keeps it in memory only). The script is the page's TypeScript (services/api/page)
 * bundled at build with everything it uses, Chart.js included: hospital networks often
 * block CDNs, and the page must work offline.
 */

const STATIC_DIR = join(__dirname, '..', '..', 'static');

/** Only same-origin scripts, styles and requests; nothing may frame the page. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  'course-page.js': { file: join(STATIC_DIR, 'course-page.js'), type: 'text/javascript; charset=utf-8' },
  'course-page.js.map': { file: join(STATIC_DIR, 'course-page.js.map'), type: 'application/json; charset=utf-8' },
  'course-page.css': { file: join(STATIC_DIR, 'course-page.css'), type: 'text/css; charset=utf-8' },
};

// Read once: a few hundred kilobytes, the same for every request.
const cache = new Map<string, Buffer>();
function load(file: string): Buffer {
  let body = cache.get(file);
  if (!body) {
    // The bundle is build output: a checkout that was never built has none.
    if (!existsSync(file)) throw new Error(`${file} is missing: \`npm run build\` builds the course page`);
    body = readFileSync(file);
    cache.set(file, body);
  }
  return body;
}

function secure(res: Response): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

export const COURSE_PAGE_PATH = /^\/courses\/[^/]+$/;

export function coursePageRoutes(): Router {
  const router = Router();
  router.get('/courses/:id', (_req, res) => {
    secure(res);
    res.setHeader('Cache-Control', 'no-store');
    res
      .status(200)
      .type('text/html; charset=utf-8')
      .send(load(join(STATIC_DIR, 'course.html')));
  });
  router.get('/assets/:name', (req, res, next) => {
    const asset = ASSETS[req.params.name];
    if (!asset) return next();
    secure(res);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.status(200).type(asset.type).send(load(asset.file));
  });
  return router;
}
