export { startFakeAnthropicServer } from './fake-anthropic-server';
export type { FakeAnthropicServerOptions } from './fake-anthropic-server';
export { startFakeOpenAiServer } from './fake-openai-server';
export type { FakeOpenAiServerOptions } from './fake-openai-server';
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
} from './script';
