'use strict';
/**
 * A tiny require hook for the benchmarks: TypeScript through @swc/core (as jest does with
 * @swc/jest), and `@kap/*` resolved to the workspaces' sources (as jest's moduleNameMapper
 * does), so a benchmark measures the code in the tree, not a stale build.
 * Use: node -r ./bench/register.js bench/some.bench.ts
 * With KAP_BENCH_STUB_VALIDATE=1, packages/fhir/src/validate.ts is replaced by a stub that
 * skips validation (only for the mapping benchmark's baseline).
 */
const Module = require('node:module');
const path = require('node:path');
const fs = require('node:fs');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '..');
const KAP = /^@kap\/([a-z-]+)(\/[a-z-]+)?$/;
const SERVICES = new Set(['api', 'worker', 'ehr-sandbox', 'mllp', 'standalone']);
const realValidate = path.join(root, 'packages/fhir/src/validate.ts');
const stubValidate = path.join(__dirname, 'lib/stub-validate.ts');

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const m = KAP.exec(request);
  if (m) request = path.join(root, SERVICES.has(m[1]) ? 'services' : 'packages', m[1], 'src', m[2] ?? '');
  const resolved = resolve.call(this, request, parent, ...rest);
  if (process.env.KAP_BENCH_STUB_VALIDATE === '1' && resolved === realValidate) return stubValidate;
  return resolved;
};

require.extensions['.ts'] = function (module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, {
    filename,
    sourceMaps: 'inline',
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
