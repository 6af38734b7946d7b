/**
 * Two services and the library they share, in one repository (a monorepo): each service names its
 * folder in the repository (`directory`, where its steps run, and whose changes start its
 * pipeline) and what else it is built from (`dependsOn`: the shared library). A change to
 * services/orders starts the orders pipeline only; a change to libs/money starts both.
 *
 * The services use the custom flavor with quick commands (node's own test runner, nothing to
 * install), and a stand-in deploy (scripts/stand-in-deploy.mjs), so that the whole monorepo runs
 * on this machine in seconds: `service-pipelines run --changed --approve`.
 */
import { defineConfig, type ServiceConfig } from 'service-pipelines';

const shop = {
  owner: 'example-org',
  repo: 'shop',
  branch: 'main',
  connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789',
};

/** A service of this repository: its folder is services/<name>, and it imports libs/money. */
function shopService(name: string, smokeEvent: object): ServiceConfig {
  return {
    name,
    flavor: 'custom',
    source: { github: shop, directory: `services/${name}`, path: `./services/${name}`, dependsOn: ['libs/money/'] },
    commands: {
      lint: 'node --check src/handler.js',
      testUnit: 'node --test test/',
      testIntegration: 'node --test test/',
      // The bundle keeps the repository's layout, so that the handler's import of libs/money resolves.
      package: `mkdir -p .pipeline/Package && tar -C ../.. -cf - services/${name}/src services/${name}/package.json libs/money | tar -xf - -C .pipeline/Package`,
      deploy: `node ../../scripts/stand-in-deploy.mjs ${name} '${JSON.stringify(smokeEvent)}'`,
      testAcceptance: 'test "$StatusCode" -lt 300',
    },
  };
}

export default defineConfig({
  cicd: { account: '111111111111', region: 'us-east-1' },
  environments: [
    { name: 'dev', account: '222222222222', region: 'us-east-1' },
    { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true },
  ],
  services: [
    shopService('orders', { body: JSON.stringify({ items: [{ cents: 250, quantity: 3 }] }) }),
    shopService('invoices', { pathParameters: { id: 'inv-1' } }),
  ],
});
