export { AGENTS_MODULE_OPTIONS, AGENTS_OPTIONS } from './agents.constants';
export { AGENTS_ENTITIES } from './agents.entities';
export { ASYNC_OPTIONS_TYPE as AGENTS_ASYNC_OPTIONS_TYPE } from './agents.module-definition';
export { AgentsModule } from './agents.module';
export { AgentDefinitionEntity } from './definitions/agent-definition.entity';
export { AgentDefinitionsService } from './definitions/agent-definitions.service';
export type { AgentDefinitionPage } from './definitions/agent-definitions.service';
export { AgentDefinitionDto, AgentDefinitionPageDto } from './definitions/dto/agent-definition.dto';
export {
  AGENT_NAME_PATTERN,
  CreateAgentDefinitionDto,
  MODEL_PATTERN,
} from './definitions/dto/create-agent-definition.dto';
export { UpdateAgentDefinitionDto } from './definitions/dto/update-agent-definition.dto';
export { AgentDefinitionNotFoundError } from './errors/agent-definition-not-found.error';
export { AgentNameTakenError } from './errors/agent-name-taken.error';
export { InvalidPageRequestError } from './errors/invalid-page-request.error';
export type {
  AgentsModuleOptions,
  ResolvedAgentsOptions,
} from './interfaces/agents-options.interface';
export { AGENTS_MIGRATIONS } from './migrations';
export { AGENT_RUN_STEP_COLUMN_LENGTHS, AgentRunStepEntity } from './runs/agent-run-step.entity';
export { AGENT_RUN_COLUMN_LENGTHS, AgentRunEntity } from './runs/agent-run.entity';
export {
  CreateRunDto,
  CreateRunQueryDto,
  RUN_MESSAGE_ROLES,
  RunMessageDto,
} from './runs/dto/create-run.dto';
export type { RunMessageRole } from './runs/dto/create-run.dto';
export { ListRunsQueryDto, RUN_STATUSES } from './runs/dto/list-runs.query.dto';
export {
  RunDto,
  RunPageDto,
  RunStepDto,
  RunStepListDto,
  toRunDto,
  toRunStepDto,
} from './runs/dto/run.dto';
export { DuplicateRunStepError } from './runs/errors/duplicate-run-step.error';
export { IdempotencyKeyReusedError } from './runs/errors/idempotency-key-reused.error';
export { InvalidRunRequestError } from './runs/errors/invalid-run-request.error';
export { RunNotFoundError } from './runs/errors/run-not-found.error';
export { RunQueueUnavailableError } from './runs/errors/run-queue-unavailable.error';
export type {
  ResolvedRunsOptions,
  RunsModuleOptions,
} from './runs/interfaces/runs-options.interface';
export {
  RUN_JOB_NAME,
  RUN_QUEUE_NAME,
  RUN_WORKER,
  resolveBullMqRunQueueOptions,
} from './runs/queue/bullmq-run-queue.options';
export type {
  BullMqRunQueueOptions,
  ResolvedBullMqRunQueueOptions,
  RunJobData,
} from './runs/queue/bullmq-run-queue.options';
export { BULLMQ_RUN_QUEUE_OPTIONS, BullMqRunQueue } from './runs/queue/bullmq-run-queue';
export { InProcessRunQueue } from './runs/queue/in-process-run-queue';
export { RunJobProcessor, runJobProcessorFor } from './runs/queue/run-job.processor';
export { RunQueue } from './runs/queue/run-queue';
export {
  RUN_EVENTS_KEEP_ALIVE_MS,
  RUN_EVENTS_POLL_MS,
  runEventStream,
} from './runs/run-event-stream';
export type { RunEventSource, RunEventStreamOptions } from './runs/run-event-stream';
export { RunEvents } from './runs/run-events';
export type { RunChange, RunChangeListener } from './runs/run-events';
export { RunExecutor } from './runs/run-executor.service';
export type { ExecuteRunOptions } from './runs/run-executor.service';
export {
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_KEEL_RUN_ID,
  ATTR_KEEL_RUN_STATUS,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
  RUN_DURATION_BUCKETS,
  RUN_QUEUE_WAIT_BUCKETS,
  RUN_STEPS_BUCKETS,
  RunTelemetry,
} from './runs/run-telemetry';
export type { InvokeAgentTelemetry } from './runs/run-telemetry';
export { TERMINAL_RUN_STATUSES } from './runs/run.types';
export type {
  AgentRun,
  AgentRunStep,
  NewRunStep,
  RunStatus,
  RunStepKind,
  RunStore,
} from './runs/run.types';
export { resolveRunsOptions } from './runs/runs-options';
export {
  MAX_STEPS_REACHED,
  RUNS_MODULE_OPTIONS,
  RUNS_OPTIONS,
  RUN_STORE,
} from './runs/runs.constants';
export { RunsController } from './runs/runs.controller';
export { RUN_ENTITIES } from './runs/runs.entities';
export { RUNS_ASYNC_OPTIONS_TYPE } from './runs/runs.module-definition';
export type { RunsModuleExtras } from './runs/runs.module-definition';
export { RunsModule } from './runs/runs.module';
export { RunsService } from './runs/runs.service';
export type { CreateRunInput, CreateRunResult, ListRunsQuery, RunPage } from './runs/runs.service';
export { MAX_EXPRESSION_DEPTH, evaluateExpression } from './tools/builtin/arithmetic-expression';
export { CalculatorTool, MAX_CALCULATOR_EXPRESSION_LENGTH } from './tools/builtin/calculator.tool';
export type { CalculatorInput, CalculatorOutput } from './tools/builtin/calculator.tool';
export { CurrentTimeTool } from './tools/builtin/current-time.tool';
export type { CurrentTimeInput, CurrentTimeOutput } from './tools/builtin/current-time.tool';
export {
  HTTP_GET_MAX_URL_LENGTH,
  HTTP_GET_TOOL_OPTIONS,
  HTTP_GET_USER_AGENT,
  HttpGetRefusedError,
  HttpGetTool,
  httpGetInputSchema,
  isTextContentType,
} from './tools/builtin/http-get.tool';
export type {
  HttpGetInput,
  HttpGetLookup,
  HttpGetOutput,
  HttpGetRefusalCode,
  HttpGetToolOptions,
} from './tools/builtin/http-get.tool';
export {
  DEFAULT_HTTP_GET_POLICY,
  HTTP_GET_MAX_TIMEOUT_MS,
  HostAllowList,
  classifyAddress,
  isForbiddenAddress,
  isPrivateClass,
  normalizeHost,
  resolveHttpGetPolicy,
} from './tools/builtin/ssrf-guard';
export type { AddressClass, HttpGetPolicy } from './tools/builtin/ssrf-guard';
export { CalculatorError } from './tools/errors/calculator.error';
export { DuplicateToolNameError } from './tools/errors/duplicate-tool-name.error';
export { InvalidToolDefinitionError } from './tools/errors/invalid-tool-definition.error';
export { ToolArgumentError } from './tools/errors/tool-argument.error';
export { UnknownToolError } from './tools/errors/unknown-tool.error';
export type {
  ResolvedToolsOptions,
  ToolResultCacheOptions,
  ToolResultCacheStoreKind,
  ToolsModuleOptions,
} from './tools/interfaces/tools-options.interface';
export { ToolRegistry } from './tools/tool-registry.service';
export { ToolResultCache, toolResultKeyOf } from './tools/tool-result-cache';
export type { ToolResultCacheDeps, ToolResultKeyParts } from './tools/tool-result-cache';
export { MemoryToolResultStore } from './tools/tool-result-store';
export type { ToolResultStore } from './tools/tool-result-store';
export { AgentTool, agentToolMetadata } from './tools/tool.decorator';
export type {
  AgentToolHandler,
  AgentToolOptions,
  RegisteredTool,
  ToolCallContext,
  ToolCallResult,
  ToolErrorType,
} from './tools/tool.types';
export { resolveToolsOptions } from './tools/tools-options';
export {
  DEFAULT_TOOL_CACHE_KEY_PREFIX,
  DEFAULT_TOOL_CACHE_MAX_ENTRIES,
  DEFAULT_TOOL_TIMEOUT_MS,
  MAX_LISTED_ISSUES,
  MAX_TOOL_ERROR_LENGTH,
  TOOLS_MODULE_OPTIONS,
  TOOLS_OPTIONS,
  TOOL_NAME_PATTERN,
} from './tools/tools.constants';
export { TOOLS_ASYNC_OPTIONS_TYPE } from './tools/tools.module-definition';
export { ToolsModule } from './tools/tools.module';
