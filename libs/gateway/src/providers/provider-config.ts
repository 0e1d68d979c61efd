import { AnthropicProvider } from './anthropic.provider';
import { DevProvider } from './dev.provider';
import { InvalidProviderConfigError } from './errors/invalid-provider-config.error';
import type { LlmProvider, LlmProviderKind } from './llm-provider';
import { OpenAiCompatibleProvider } from './openai-compatible.provider';

export const LLM_PROVIDER_KINDS: readonly LlmProviderKind[] = [
  'openai-compatible',
  'anthropic',
  'dev',
];

/** Same rule as `@keel/resilience` policy names, so a provider can share its name with its policy. */
const PROVIDER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface LlmProviderConfig {
  /** Unique; 1-64 of `A-Z a-z 0-9 _ . -`, starting alphanumeric. */
  name: string;
  kind: LlmProviderKind;
  /**
   * The vendor endpoint. openai-compatible: its `/v1` root (default OpenAI's); anthropic:
   * default `https://api.anthropic.com`; dev: not allowed.
   */
  baseUrl?: string;
  /** A secret: never logged or put in errors. Required for anthropic and for OpenAI itself. */
  apiKey?: string;
  /** Model names routed to this provider. */
  models?: string[];
}

export interface CreateProviderDeps {
  /** Unix time in milliseconds, for `created`. @default Date.now */
  now?: () => number;
}

/**
 * Checks provider configuration and returns it typed; throws `InvalidProviderConfigError`
 * naming every problem. Values of `apiKey` and `baseUrl` are never repeated in messages.
 */
export function validateProviderConfigs(input: unknown): LlmProviderConfig[] {
  const problems: string[] = [];
  if (!Array.isArray(input)) throw new InvalidProviderConfigError(['providers must be an array']);
  const seen = new Set<string>();
  input.forEach((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`providers[${index}] must be an object`);
      return;
    }
    const config = entry as Record<string, unknown>;
    const validName = typeof config.name === 'string' && PROVIDER_NAME.test(config.name);
    const label = validName ? `provider "${config.name as string}"` : `providers[${index}]`;
    if (!validName) {
      problems.push(`${label}.name must be 1-64 of A-Z a-z 0-9 _ . - starting alphanumeric`);
    } else if (seen.has(config.name as string)) {
      problems.push(`${label}: name is used twice`);
    } else {
      seen.add(config.name as string);
    }

    const kind = config.kind;
    if (!LLM_PROVIDER_KINDS.includes(kind as LlmProviderKind)) {
      problems.push(`${label}.kind must be one of ${LLM_PROVIDER_KINDS.join(', ')}`);
    }

    if (config.baseUrl !== undefined) {
      if (kind === 'dev') problems.push(`${label}.baseUrl is not used by kind dev`);
      else problems.push(...baseUrlProblems(label, config.baseUrl));
    }

    if (config.apiKey !== undefined) {
      if (typeof config.apiKey !== 'string' || config.apiKey.trim() === '') {
        problems.push(`${label}.apiKey must be a non-empty string`);
      } else if (kind === 'dev') {
        problems.push(`${label}.apiKey is not used by kind dev`);
      }
    } else if (kind === 'anthropic') {
      problems.push(`${label}.apiKey is required for kind anthropic`);
    } else if (kind === 'openai-compatible' && config.baseUrl === undefined) {
      problems.push(`${label}.apiKey is required when baseUrl is left to OpenAI's`);
    }

    if (config.models !== undefined) {
      const models = config.models;
      if (
        !Array.isArray(models) ||
        models.some((model) => typeof model !== 'string' || model.trim() === '')
      ) {
        problems.push(`${label}.models must be an array of non-empty strings`);
      }
    }
  });
  if (problems.length > 0) throw new InvalidProviderConfigError(problems);
  return input as LlmProviderConfig[];
}

function baseUrlProblems(label: string, value: unknown): string[] {
  if (typeof value !== 'string') return [`${label}.baseUrl must be a string`];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [`${label}.baseUrl is not a valid URL`];
  }
  const problems: string[] = [];
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    problems.push(`${label}.baseUrl must be http or https`);
  if (url.username || url.password)
    problems.push(`${label}.baseUrl must not embed credentials; use apiKey`);
  return problems;
}

/** Builds the provider a (validated) config describes. */
export function createProvider(
  config: LlmProviderConfig,
  deps: CreateProviderDeps = {},
): LlmProvider {
  switch (config.kind) {
    case 'openai-compatible':
      return new OpenAiCompatibleProvider({
        name: config.name,
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
      });
    case 'anthropic':
      if (!config.apiKey)
        throw new InvalidProviderConfigError([
          `provider "${config.name}".apiKey is required for kind anthropic`,
        ]);
      return new AnthropicProvider({
        name: config.name,
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
        now: deps.now,
      });
    case 'dev':
      return new DevProvider({ name: config.name, now: deps.now });
    default:
      throw new InvalidProviderConfigError([
        `provider "${String((config as { name?: unknown }).name)}".kind is unknown`,
      ]);
  }
}
