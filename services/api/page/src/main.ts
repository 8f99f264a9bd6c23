import { createKapClient } from '@kap/client';
import { courseIdOf, startCoursePage } from './app';
import { chartJsDrawer } from './charts';

/**
 * The course page's entry point, bundled by page/build.mjs into static/course-page.js. Calls
 * go through @kap/client, same origin, without cookies or caching: the only credential is
 * the token the user pastes.
 */

// crypto.randomUUID exists only in secure contexts (https, localhost); a clinic may serve plain http inside its network.
function idempotencyKey(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `page-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

document.addEventListener('DOMContentLoaded', () => {
  void startCoursePage({
    courseId: courseIdOf(location.pathname),
    api: (token) =>
      createKapClient({
        baseUrl: location.origin,
        token,
        idempotencyKey,
        // openapi-fetch hands over a complete Request; this only adds what the page insists on.
        fetch: (input) => fetch(new Request(input, { credentials: 'omit', cache: 'no-store' })),
      }),
    charts: chartJsDrawer(),
  });
});
