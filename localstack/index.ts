/**
 * `fanout/local`: what a project's own tests need to run its topology locally — start the embedded
 * cloud (SNS, SQS, DynamoDB, S3 on loopback ports), provision a topology through the SDK, and drive a
 * group's handler the way Lambda's SQS event source mapping does. Stop everything when done.
 * Needs Node ≥ 22.5 and the optional peer dependencies `fauxqs` and `dynalite` (the emulators).
 */
export {
  type CloudEndpoints,
  type EmbeddedCloud,
  type EmbeddedCloudOptions,
  EmulatorExitedError,
  type EmulatorIsolation,
  EmulatorMissingError,
  type EmulatorUsage,
  PortInUseError,
  sdkEnvironment,
  startEmbeddedCloud,
} from './emulator/embedded-cloud.ts';
export {
  type LocalStack,
  type LocalStackOptions,
  LocalStackRunningError,
  startLocalStack,
} from './local-stack.ts';
export {
  type ProbeOptions,
  type ProbeReport,
  type ProbeResult,
  ProbeUnreachableError,
  type ProbeVerdict,
  runCapabilityProbe,
} from './probe/capability-probe.ts';
export {
  localPayloadBucket,
  localTables,
  type ProvisionClients,
  type ProvisionedStack,
  provisionTopology,
} from './provisioning/provision.ts';
export {
  ensureBucket,
  ensureIdempotencyTable,
  ensureQueue,
  ensureSubscription,
  ensureTopic,
  type FilterSpec,
  type QueueRef,
  type QueueSpec,
} from './provisioning/resources.ts';
export {
  EventSourceRunner,
  type EventSourceRunnerOptions,
  type InvocationReport,
  judgeBatchResponse,
  type SqsLambdaHandler,
} from './runner/event-source-runner.ts';
export { toLambdaRecord } from './runner/lambda-event.ts';
export {
  BUNDLED_MODULES_DIR,
  type ImportModuleOptions,
  importModule,
  ModuleLoadError,
} from './runner/module-loader.ts';
