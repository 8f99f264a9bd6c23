// @ts-check
/**
 * The linter, with the layering docs/design.md#boundaries describes enforced as import rules:
 * - packages (pure rules, mapping, the store) never import a service;
 * - a service never imports another service; services/standalone is the composition root that
 *   starts the API, worker, MLLP listener and sandbox in one process, so it alone may import them all;
 * - no package or service source imports @kap/testkit (it is test-only);
 * - nothing imports another workspace's src or dist by path, test/support or bench/lib: tests and
 *   benchmarks use @kap/testkit/* and the workspaces' entry points (@kap/store, @kap/api, ...). A test
 *   inside a workspace may import its own src relatively.
 * Formatting is prettier's (`prettier --check .`), so no stylistic rule is enabled here.
 */
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const SERVICES = ['api', 'worker', 'mllp', 'ehr-sandbox', 'standalone'];
/** Files that are tests or test-only helpers inside a workspace (the tsconfigs exclude them from the build). */
const TEST_FILES = ['**/*.test.ts', '**/test-*.ts', '**/*-scenario.ts', '**/src/testing/**'];

const EVERYWHERE = [
  {
    regex: '^@kap/(?!testkit/)[\\w-]+/.',
    message: "Import the workspace's entry point (@kap/name), not a path inside it.",
  },
  {
    regex: '(^|/)(packages|services)/[\\w-]+/(src|dist)(/|$)|^(\\.\\./)+[\\w-]+/(src|dist)(/|$)',
    message: "Another workspace's src or dist by path: import its entry point (@kap/name) instead.",
  },
  {
    regex: '(^|/)(test/support|bench/lib)(/|$)|^(\\./|(\\.\\./)+)support(/|$)',
    message: 'Shared test helpers live in @kap/testkit: import @kap/testkit/<module>.',
  },
];
const NO_TESTKIT = { regex: '^@kap/testkit(/|$)', message: '@kap/testkit is test-only: source never imports it.' };
const NO_SERVICES = {
  regex: `^@kap/(${SERVICES.join('|')})$|(^|/)services(/|$)`,
  message: 'A package never imports a service: services depend on packages, not the other way round.',
};
const noOtherService = (self) => ({
  regex: `^@kap/(${SERVICES.filter((s) => s !== self).join('|')})$|(^|/)services(/|$)`,
  message: 'A service never imports another service; only services/standalone, the composition root, does.',
});
const restrict = (...extra) => ['error', { patterns: [...EVERYWHERE, ...extra] }];

export default tseslint.config(
  {
    // Generated: the client's types, and the course page's bundle (built from services/api/page).
    ignores: [
      '**/node_modules/',
      '**/dist/',
      '**/.turbo/',
      'coverage/',
      '.data/',
      'test-output/',
      'packages/client/src/generated/',
      'services/api/static/course-page.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-restricted-imports': restrict(),
      // A leading underscore marks a deliberately unused binding (a parameter an interface demands,
      // a field dropped by destructuring with a rest).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // prettier wraps code at 140; this catches what it leaves: long comments and code around strings.
      'max-len': ['error', { code: 140, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreUrls: true, ignoreRegExpLiterals: true }],
      // Every match is deliberate: input validation that rejects control characters, HL7 framing bytes.
      'no-control-regex': 'off',
    },
  },
  {
    // Tests, their helpers and the benchmarks send deliberately malformed bodies and load modules lazily.
    files: ['test/**', 'bench/**', 'packages/testkit/**', ...TEST_FILES],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['**/*.{js,cjs}'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
  { files: ['services/api/static/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
  // Packages: never a service; their sources never testkit.
  { files: ['packages/*/src/**/*.ts'], ignores: ['packages/testkit/**'], rules: { 'no-restricted-imports': restrict(NO_SERVICES) } },
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/testkit/**', ...TEST_FILES],
    rules: { 'no-restricted-imports': restrict(NO_SERVICES, NO_TESTKIT) },
  },
  // Services: never another service (standalone excepted); their sources never testkit.
  ...SERVICES.filter((s) => s !== 'standalone').flatMap((s) => [
    { files: [`services/${s}/src/**/*.ts`], rules: { 'no-restricted-imports': restrict(noOtherService(s)) } },
    {
      files: [`services/${s}/src/**/*.ts`],
      ignores: TEST_FILES,
      rules: { 'no-restricted-imports': restrict(noOtherService(s), NO_TESTKIT) },
    },
  ]),
  {
    files: ['services/standalone/src/**/*.ts'],
    ignores: TEST_FILES,
    rules: { 'no-restricted-imports': restrict(NO_TESTKIT) },
  },
);
