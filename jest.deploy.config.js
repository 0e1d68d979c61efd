// @ts-check
/**
 * The deployment proofs (`npm run test:deploy`): the Dockerfile, compose file, Kubernetes
 * manifests, Prometheus rules, Alertmanager config and Grafana dashboards checked with the
 * real tools (kubectl, promtool, amtool, prometheus, nginx). `.ci/run` installs those tools
 * and runs this after `npm test`; under CI=true a missing tool fails the suite.
 */
const { common } = require('./jest.common.js');

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120_000,
  projects: [
    {
      ...common,
      displayName: 'deploy',
      roots: ['<rootDir>/test/deploy'],
      testMatch: ['**/*.deploy-spec.ts'],
    },
  ],
};
