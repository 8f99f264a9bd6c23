// Builds the clinicians' course page (page/src, TypeScript) into static/course-page.js, the
// script course.html loads: type-checks it and its tests with their own tsconfigs (the DOM's
// types, which the API's code must not see), then bundles it with its imports (@kap/client, @kap/domain,
// Chart.js) for browsers. The bundle is build output, not committed (.gitignore).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
// The page's code sees the DOM's types and neither Node's nor jest's; its tests see all three.
for (const project of ['tsconfig.json', 'tsconfig.test.json']) {
  try {
    execFileSync(process.execPath, [tsc, '-p', join(here, project)], { stdio: 'inherit' });
  } catch {
    process.exit(1); // tsc has said why
  }
}

await build({
  entryPoints: [join(here, 'src', 'main.ts')],
  outfile: join(here, '..', 'static', 'course-page.js'),
  bundle: true,
  // A node: import reachable from the page fails the build here instead of in the browser.
  platform: 'browser',
  format: 'iife',
  target: ['es2022'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'eof',
  banner: { js: '/* Built from services/api/page/src by page/build.mjs; do not edit. */' },
  logLevel: 'warning',
});
