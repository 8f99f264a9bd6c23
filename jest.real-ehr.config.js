/**
 * `npm run test:real-ehr`: the suite that needs a real EHR server, named by the environment
 * (see packages/testkit/src/real-ehr-environment.ts). Kept out of `npm test`, which CI runs without one.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/real-ehr'],
  testMatch: ['**/*.real-ehr.ts'],
  maxWorkers: 1,
};
