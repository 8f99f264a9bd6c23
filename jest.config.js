/**
 * One jest run over every workspace. TypeScript is transpiled by swc (types are checked by
 * `tsc -b` in the build step), and workspace packages resolve to their sources so tests
 * never run against a stale build.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/packages/.*/dist/', '<rootDir>/services/.*/dist/'],
  transform: {
    '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  moduleNameMapper: {
    '^@kap/testkit/(.*)$': '<rootDir>/packages/testkit/src/$1',
    '^@kap/(domain|contracts|fhir|store|config|queue|ehr-client|inbound|runtime|client)$': '<rootDir>/packages/$1/src',
    '^@kap/(api|worker|ehr-sandbox|mllp)$': '<rootDir>/services/$1/src',
  },
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  maxWorkers: 2,
  // The first test of a file compiles the R4 definitions and JSON schema for its validators, which takes
  // tens of seconds on a busy 2-core machine; no test asserts a duration.
  testTimeout: 90000,
};
