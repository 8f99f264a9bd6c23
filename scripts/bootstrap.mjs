// Installs the workspace's dependencies when they are missing or older than the lock file,
// so that `npm start` and `npm test` work on a fresh clone. Uses only Node's standard library.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const marker = 'node_modules/.package-lock.json';
const stale = !existsSync(marker) || statSync('package-lock.json').mtimeMs > statSync(marker).mtimeMs;
if (stale) {
  // `npm install`, not `npm ci`: with the lock file as committed it installs exactly the
  // locked versions, and unlike `npm ci` it accepts a lock file that lists only the
  // platform binaries (swc, turbo) of the machine that wrote it.
  console.log('bootstrap: installing dependencies…');
  execSync('npm install --no-audit --no-fund --loglevel=error', { stdio: 'inherit' });
}
