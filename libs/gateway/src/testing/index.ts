// @keel/gateway/testing: helpers for specs of the gateway and of libraries built on it.
export type { TestGateway } from './test-gateway';
export { createTestGateway } from './test-gateway';
export type { UsageDatabase, UsageDatabaseKind } from '../usage/testing/usage-databases';
export { createUsageDatabase, usageDatabaseKinds } from '../usage/testing/usage-databases';
export { startFakeAnthropicServer } from './fake-vendors/fake-anthropic-server';
export type { FakeAnthropicServerOptions } from './fake-vendors/fake-anthropic-server';
export { startFakeOpenAiServer } from './fake-vendors/fake-openai-server';
export type { FakeOpenAiServerOptions } from './fake-vendors/fake-openai-server';
export type {
  CutStreamStep,
  FakeVendorServer,
  FakeVendorStep,
  HangStep,
  RateLimitStep,
  RecordedRequest,
  ReplyStep,
  ScriptedToolCall,
  ScriptedUsage,
  ServerErrorStep,
  StreamStep,
} from './fake-vendors/script';
