import { createHash } from 'node:crypto';

import type { Clock } from '@keel/core';
import { errorMessage, systemClock } from '@keel/core';
import { canonicalJson, RedisCacheStore } from '@keel/gateway';
import type { LoggerService } from '@nestjs/common';
import { Logger } from '@nestjs/common';

import type { ResolvedToolsOptions } from './interfaces/tools-options.interface';
import type { ToolResultStore } from './tool-result-store';
import { MemoryToolResultStore } from './tool-result-store';

/** Bumped when the key or the stored form changes, so old entries are simply never hit. */
const KEY_VERSION = 1;

export interface ToolResultKeyParts {
  /** Entries are never shared between tenants. */
  tenantId: string;
  tool: string;
  /** The arguments as the tool's schema outputs them (defaults filled, unknown keys dropped). */
  input: unknown;
}

/**
 * The cache key of a tool call: SHA-256 (hex) of a canonical JSON (keys sorted, `undefined`
 * dropped) of the tenant, the tool name and the validated arguments, so `{"a":1,"b":2}` and
 * `{"b":2,"a":1}`, or an argument left to its default and the default sent, share an entry.
 */
export function toolResultKeyOf({ tenantId, tool, input }: ToolResultKeyParts): string {
  return createHash('sha256')
    .update(canonicalJson({ v: KEY_VERSION, tenant: tenantId, tool, input }))
    .digest('hex');
}

export interface ToolResultCacheDeps {
  /** Reads the time for the memory store's expiry. @default systemClock */
  clock?: Clock;
  logger?: LoggerService;
}

/**
 * Successful tool results, re-used for the same tenant, tool and arguments until the tool's
 * `cacheTtlMs` passes. Results are stored as JSON: a result that has no JSON form is not
 * cached, and a caller mutating a hit cannot change the cache. A store failure never fails
 * a call: a read becomes a miss, a write is dropped, and only the first failure of an
 * outage is logged.
 */
export class ToolResultCache {
  private readonly logger: LoggerService;
  private degraded = false;

  /** `store` null: caching is off. */
  constructor(
    private readonly store: ToolResultStore | null,
    deps: Pick<ToolResultCacheDeps, 'logger'> = {},
  ) {
    this.logger = deps.logger ?? new Logger(ToolResultCache.name);
  }

  /** The store the options ask for. */
  static fromOptions(
    options: ResolvedToolsOptions,
    deps: ToolResultCacheDeps = {},
  ): ToolResultCache {
    const { store, maxEntries, keyPrefix } = options.cache;
    let resultStore: ToolResultStore | null = null;
    if (store === 'memory') {
      resultStore = new MemoryToolResultStore(maxEntries, deps.clock ?? systemClock);
    } else if (store === 'redis') {
      if (options.redis === null) {
        throw new Error(`Invalid ToolsModule options: cache.store 'redis' needs the redis client`);
      }
      resultStore = new RedisCacheStore(options.redis, keyPrefix);
    }
    return new ToolResultCache(resultStore, deps);
  }

  get enabled(): boolean {
    return this.store !== null;
  }

  /** The cached output, or `undefined` on a miss, when caching is off or the store fails. */
  async get(key: string): Promise<{ output: unknown } | undefined> {
    if (this.store === null) return undefined;
    let stored: string | undefined;
    try {
      stored = await this.store.get(key);
    } catch (error) {
      this.failed(error);
      return undefined;
    }
    this.healthy();
    if (stored === undefined) return undefined;
    try {
      const parsed = JSON.parse(stored) as { output?: unknown };
      return { output: parsed.output };
    } catch {
      // Not written by this version: treat as a miss; the next success overwrites it.
      return undefined;
    }
  }

  /** Stores a successful output for `ttlMs`; returns whether it was stored. */
  async set(key: string, output: unknown, ttlMs: number): Promise<boolean> {
    if (this.store === null || !(ttlMs > 0)) return false;
    let serialised: string;
    try {
      serialised = JSON.stringify({ output });
    } catch {
      // A BigInt or a cycle: the result is used once, not cached.
      return false;
    }
    try {
      await this.store.set(key, serialised, ttlMs);
    } catch (error) {
      this.failed(error);
      return false;
    }
    this.healthy();
    return true;
  }

  private failed(error: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    const message = errorMessage(error);
    this.logger.warn(`Tool result cache unavailable, running tools without it: ${message}`);
  }

  private healthy(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.logger.log('Tool result cache available again');
  }
}
