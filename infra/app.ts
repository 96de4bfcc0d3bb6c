import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FanoutStack } from './fanout-stack.ts';
import topology from './topology.ts';

/** The CDK app that `cdk.json` runs: one FanoutStack of `infra/topology.ts`, checked by cdk-nag. */
const app = new App();
new FanoutStack(app, app.node.tryGetContext('stackName') ?? process.env.FANOUT_STACK_NAME ?? 'Fanout', {
  topology,
  projectRoot: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
  alarmEmail: app.node.tryGetContext('alarmEmail'),
  dashboard: ['true', true].includes(app.node.tryGetContext('dashboard')),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
