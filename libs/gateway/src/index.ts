export { CANONICAL_JSON_MAX_DEPTH, cacheKeyOf, canonicalJson } from './cache/cache-key';
export type { CacheKeyScope, CacheableChatRequest } from './cache/cache-key';
export { RedisCacheStore } from './cache/redis-cache-store';
export { replayAsChunks } from './cache/replay-stream';
export type { ReplayOptions } from './cache/replay-stream';
export { resolveResponseCacheOptions } from './cache/response-cache-options';
export type {
  ResolvedResponseCacheOptions,
  ResponseCacheOptions,
  ResponseCacheStoreKind,
} from './cache/response-cache-options';
export { ResponseCache, isCacheableCompletion } from './cache/response-cache.service';
export type { ResponseCacheDeps } from './cache/response-cache.service';
export {
  CACHE_HEADER,
  ChatCompletionsController,
  TARGET_HEADER,
} from './chat-completions.controller';
export { parseChatRequest, providerRequestOf } from './chat-request';
export type { GatewayChatRequest } from './chat-request';
export { ClientDisconnectedError } from './errors/client-disconnected.error';
export { InvalidGatewayRequestError } from './errors/invalid-gateway-request.error';
export { ProviderUnavailableError } from './errors/provider-unavailable.error';
export { UpstreamRejectedError } from './errors/upstream-rejected.error';
export { DEV_PROVIDER_CONFIG, LLM_VENDOR_POLICY, resolveGatewayOptions } from './gateway-options';
export type { GatewayModuleOptions, ResolvedGatewayOptions } from './gateway-options';
export { GATEWAY_MODULE_OPTIONS, GATEWAY_OPTIONS } from './gateway.constants';
export { GATEWAY_ENTITIES } from './gateway.entities';
export { GATEWAY_ASYNC_OPTIONS_TYPE } from './gateway.module-definition';
export { GatewayModule } from './gateway.module';
export { GatewayService, estimateInputTokens } from './gateway.service';
export type {
  CacheResult,
  GatewayCallOptions,
  GatewayCaller,
  GatewayCompletion,
  GatewayStream,
} from './gateway.service';
export { GATEWAY_MIGRATIONS } from './migrations';
export { OpenAiErrorFilter } from './openai-error.filter';
export type { OpenAiErrorBody } from './openai-error.filter';
export { ProviderRegistry } from './provider-registry';
export type { ProviderSource, RegisteredProvider } from './provider-registry';
export {
  ANTHROPIC_DEFAULT_MAX_TOKENS,
  AnthropicStreamTranslator,
  fromAnthropicMessage,
  toAnthropicRequest,
  toAnthropicToolChoice,
  toFinishReason,
  toUsage,
} from './providers/anthropic-translation';
export type { AnthropicRequestDefaults } from './providers/anthropic-translation';
export { ANTHROPIC_DEFAULT_BASE_URL, AnthropicProvider } from './providers/anthropic.provider';
export type { AnthropicProviderOptions } from './providers/anthropic.provider';
export { contentText } from './providers/chat.types';
export type {
  ChatAssistantMessage,
  ChatCompletion,
  ChatCompletionChunk,
  ChatContent,
  ChatFinishReason,
  ChatFunctionTool,
  ChatMessage,
  ChatRequest,
  ChatResponseFormat,
  ChatSystemMessage,
  ChatTextPart,
  ChatToolCall,
  ChatToolChoice,
  ChatToolMessage,
  ChatUserMessage,
  Usage,
} from './providers/chat.types';
export { DEV_MODELS, DEV_SYSTEM_FINGERPRINT, DevProvider } from './providers/dev.provider';
export type { DevProviderOptions } from './providers/dev.provider';
export { InvalidChatRequestError } from './providers/errors/invalid-chat-request.error';
export { InvalidProviderConfigError } from './providers/errors/invalid-provider-config.error';
export { LlmProvider } from './providers/llm-provider';
export type { LlmCallOptions, LlmProviderKind } from './providers/llm-provider';
export {
  OPENAI_DEFAULT_BASE_URL,
  OpenAiCompatibleProvider,
} from './providers/openai-compatible.provider';
export type { OpenAiCompatibleProviderOptions } from './providers/openai-compatible.provider';
export {
  LLM_PROVIDER_KINDS,
  createProvider,
  validateProviderConfigs,
} from './providers/provider-config';
export type { CreateProviderDeps, LlmProviderConfig } from './providers/provider-config';
export { AllTargetsFailedError } from './routing/errors/all-targets-failed.error';
export { InvalidModelRoutingError } from './routing/errors/invalid-model-routing.error';
export { UnknownModelError } from './routing/errors/unknown-model.error';
export { ModelRouter } from './routing/model-router.service';
export type {
  ModelRouterOptions,
  ProviderLookup,
  RoutedCompletion,
  RoutedStream,
} from './routing/model-router.service';
export { resolveModelTargets, validateModelRouting } from './routing/model-routing';
export type { ModelRoutingConfig, ModelTarget, RoutingAttempt } from './routing/model-routing';
export {
  CreateLlmProviderDto,
  IsOptionalNotNull,
  LLM_PROVIDER_NAME_PATTERN,
  MAX_PROVIDER_MODELS,
} from './stored-providers/dto/create-llm-provider.dto';
export { LlmProviderDto, LlmProviderListDto } from './stored-providers/dto/llm-provider.dto';
export { UpdateLlmProviderDto } from './stored-providers/dto/update-llm-provider.dto';
export {
  InvalidStoredProviderError,
  ProviderKeyEncryptionUnavailableError,
  StoredProviderKeyUnreadableError,
  StoredProviderNameTakenError,
  StoredProviderNotFoundError,
} from './stored-providers/errors/stored-provider.errors';
export { STORED_PROVIDER_ENTITIES } from './stored-providers/stored-provider.entities';
export {
  STORED_PROVIDER_COLUMN_LENGTHS,
  StoredProviderEntity,
} from './stored-providers/stored-provider.entity';
export {
  DEFAULT_STORED_PROVIDERS_REFRESH_MS,
  STORED_PROVIDERS_OPTIONS,
  STORED_PROVIDER_POLICY,
} from './stored-providers/stored-providers.constants';
export type { StoredProvidersOptions } from './stored-providers/stored-providers.constants';
export {
  AdminLlmProvidersController,
  toLlmProviderDto,
} from './stored-providers/stored-providers.controller';
export { StoredProvidersService } from './stored-providers/stored-providers.service';
export {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_P,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  ATTR_GEN_AI_TOKEN_TYPE,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_KEEL_GATEWAY_ALIAS,
  ATTR_KEEL_GATEWAY_CACHE,
  ATTR_KEEL_GATEWAY_PROVIDER,
  ATTR_KEEL_GATEWAY_REASON,
  EVENT_GEN_AI_FALLBACK,
  EVENT_GEN_AI_FIRST_CHUNK,
  GEN_AI_DURATION_BUCKETS,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC,
  GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  GEN_AI_TOKEN_TYPE_VALUE_INPUT,
  GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
  GEN_AI_TOKEN_USAGE_BUCKETS,
  GEN_AI_TRACER_NAME,
  GenAiTelemetry,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
  errorTypeOfReason,
  genAiErrorType,
  genAiProviderName,
} from './telemetry/gen-ai-telemetry';
export type {
  ChatOutcome,
  ChatTelemetry,
  ChatTelemetryInput,
  ServedTarget,
} from './telemetry/gen-ai-telemetry';
export { BudgetLedgerEntity } from './usage/budget-ledger.entity';
export { periodWindow } from './usage/budget-period';
export type { PeriodWindow } from './usage/budget-period';
export { BudgetEntity } from './usage/budget.entity';
export type { BudgetPeriod, BudgetScope } from './usage/budget.entity';
export { BudgetAdmin } from './usage/budget-admin.service';
export { BudgetLedger } from './usage/budget-ledger.service';
export { BudgetLookup } from './usage/budget-lookup';
export {
  DEFAULT_BUDGET_LOOKUP_CACHE_MAX_ENTRIES,
  DEFAULT_BUDGET_LOOKUP_CACHE_TTL_MS,
} from './usage/budget.types';
export type {
  ActualUsage,
  BudgetOptions,
  BudgetStatus,
  Reservation,
  ReserveRequest,
  ReservedLedgerRow,
  SetBudgetInput,
} from './usage/budget.types';
export { AdminBudgetsController, BudgetsController } from './usage/budgets.controller';
export {
  BudgetDto,
  BudgetListDto,
  BudgetStatusDto,
  BudgetTenantQueryDto,
  SetBudgetDto,
} from './usage/dto/budget.dto';
export { IsUsdLimit, MAX_USD, microsToUsd, usdToMicros } from './usage/dto/usd-amount';
export { BudgetExceededError } from './usage/errors/budget-exceeded.error';
export { BudgetNotFoundError } from './usage/errors/budget-not-found.error';
export { InvalidBudgetError } from './usage/errors/invalid-budget.error';
export { InvalidPriceTableError } from './usage/errors/invalid-price-table.error';
export { InvalidTokenUsageError } from './usage/errors/invalid-token-usage.error';
export { LLM_USAGE_COLUMN_LENGTHS, LlmUsageEntity } from './usage/llm-usage.entity';
export type { LlmUsageStatus } from './usage/llm-usage.entity';
export { PriceTable, validatePriceTable } from './usage/price-table';
export type { Cost, ModelPrice, TokenUsage } from './usage/price-table';
export {
  DEFAULT_MAX_QUEUED_USAGE_RECORDS,
  DEFAULT_USAGE_FLUSH_INTERVAL_MS,
  UsageRecorderService,
} from './usage/usage-recorder.service';
export type { LlmUsageInput, UsageRecorderOptions } from './usage/usage-recorder.service';
export { BUDGET_OPTIONS, USAGE_RECORDER_OPTIONS } from './usage/usage.constants';
export { USAGE_ENTITIES } from './usage/usage.entities';
