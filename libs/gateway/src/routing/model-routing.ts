import { InvalidModelRoutingError } from './errors/invalid-model-routing.error';
import { UnknownModelError } from './errors/unknown-model.error';

/** One place a request can be served: a configured provider and the vendor's model name. */
export interface ModelTarget {
  provider: string;
  model: string;
}

/** A target that failed, and why (a short reason such as `status_500`, `timeout_attempt`). */
export interface RoutingAttempt extends ModelTarget {
  error: string;
}

export interface ModelRoutingConfig {
  /**
   * Alias (what clients put in `model`) → targets tried in order, the first preferred.
   * Besides aliases, clients may ask for `provider/model` of any configured provider.
   * @default {}
   */
  aliases: Record<string, ModelTarget[]>;
}

/** No `/`, so an alias never reads as `provider/model`. */
const ALIAS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** Vendor model names vary (`gpt-4o`, `meta-llama/Llama-3-8B`); anything printable and short. */
const MODEL_NAME = /^[\x21-\x7e]{1,256}$/;

/**
 * Checks routing configuration against the configured provider names and returns it typed;
 * throws `InvalidModelRoutingError` naming every problem (bad alias or model names, empty
 * chains, unknown providers, a target listed twice in one chain).
 */
export function validateModelRouting(
  input: unknown,
  providerNames: Iterable<string>,
): ModelRoutingConfig {
  const providers = new Set(providerNames);
  if (!isRecord(input)) throw new InvalidModelRoutingError(['routing must be an object']);
  const aliases = input.aliases ?? {};
  if (!isRecord(aliases)) throw new InvalidModelRoutingError(['routing.aliases must be an object']);

  const problems: string[] = [];
  for (const [alias, chain] of Object.entries(aliases)) {
    const label = `alias "${alias}"`;
    if (!ALIAS_NAME.test(alias)) {
      problems.push(`${label}: name must be 1-128 of A-Z a-z 0-9 _ . : - starting alphanumeric`);
    }
    if (!Array.isArray(chain)) {
      problems.push(`${label} must be an array of { provider, model }`);
      continue;
    }
    if (chain.length === 0) problems.push(`${label} has no targets`);
    const seen = new Set<string>();
    chain.forEach((target: unknown, index) => {
      const where = `${label}[${index}]`;
      if (!isRecord(target)) {
        problems.push(`${where} must be an object { provider, model }`);
        return;
      }
      const { provider, model } = target;
      if (typeof provider !== 'string' || !providers.has(provider)) {
        problems.push(`${where}.provider ${describe(provider)} is not a configured provider`);
      }
      if (typeof model !== 'string' || !MODEL_NAME.test(model)) {
        problems.push(`${where}.model must be 1-256 printable characters without spaces`);
      }
      const key = `${String(provider)}/${String(model)}`;
      if (seen.has(key)) problems.push(`${where} repeats ${key}`);
      seen.add(key);
    });
  }
  if (problems.length > 0) throw new InvalidModelRoutingError(problems);
  return { aliases: aliases as Record<string, ModelTarget[]> };
}

/**
 * The targets for a request's `model`: an alias's chain, or the one target of
 * `provider/model` (split at the first `/`) when that provider is configured.
 * Throws `UnknownModelError` otherwise.
 */
export function resolveModelTargets(
  routing: ModelRoutingConfig,
  providerNames: Pick<ReadonlySet<string>, 'has'>,
  requested: string,
): readonly ModelTarget[] {
  if (Object.hasOwn(routing.aliases, requested)) return routing.aliases[requested];
  const slash = requested.indexOf('/');
  if (slash > 0) {
    const provider = requested.slice(0, slash);
    const model = requested.slice(slash + 1);
    if (providerNames.has(provider) && MODEL_NAME.test(model)) return [{ provider, model }];
  }
  throw new UnknownModelError(requested);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : String(value);
}
