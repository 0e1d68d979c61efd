import type {
  ResolvedToolsOptions,
  ToolsModuleOptions,
} from './interfaces/tools-options.interface';
import { DEFAULT_TOOL_CACHE_KEY_PREFIX, DEFAULT_TOOL_CACHE_MAX_ENTRIES } from './tools.constants';

const STORES: readonly string[] = ['memory', 'redis', 'off'];

/** Fills defaults and rejects nonsense at module start, not at the first tool call. */
export function resolveToolsOptions(options: ToolsModuleOptions = {}): ResolvedToolsOptions {
  const cache = {
    store: options.cache?.store ?? 'memory',
    maxEntries: options.cache?.maxEntries ?? DEFAULT_TOOL_CACHE_MAX_ENTRIES,
    keyPrefix: options.cache?.keyPrefix ?? DEFAULT_TOOL_CACHE_KEY_PREFIX,
  };
  const redis = options.redis ?? null;
  const problems: string[] = [];
  if (!STORES.includes(cache.store))
    problems.push(`cache.store must be 'memory', 'redis' or 'off'`);
  if (!Number.isSafeInteger(cache.maxEntries) || cache.maxEntries < 1) {
    problems.push('cache.maxEntries must be a positive integer');
  }
  if (typeof cache.keyPrefix !== 'string') problems.push('cache.keyPrefix must be a string');
  if (cache.store === 'redis' && redis === null) {
    problems.push("cache.store 'redis' needs the redis client");
  }
  if (problems.length > 0) throw new Error(`Invalid ToolsModule options: ${problems.join('; ')}`);
  return { cache, redis };
}
