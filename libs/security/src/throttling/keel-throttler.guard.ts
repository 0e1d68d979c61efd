import { errorMessage, Clock, systemClock } from '@keel/core';
import type { ExecutionContext } from '@nestjs/common';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  normalizeIp,
  ThrottlerGuard,
} from '@nestjs/throttler';
import type {
  Resolvable,
  ThrottlerGenerateKeyFunction,
  ThrottlerGetTrackerFunction,
  ThrottlerModuleOptions,
  ThrottlerOptions,
  ThrottlerRequest,
  ThrottlerStorage,
} from '@nestjs/throttler';

import { AuditService } from '../audit/audit.service';
import { PerRoute } from '../auth/per-route';
import type { Principal } from '../auth/principal';
import { MemoryRateLimitStore } from '../rate-limit/memory-rate-limit.store';
import { RateLimitExceededError } from './errors/rate-limit-exceeded.error';
import { RateLimitUnavailableError } from './errors/rate-limit-unavailable.error';
import { resolveKeelThrottlerOptions } from './keel-throttler-options';
import type { KeelThrottlerOptions, ResolvedKeelThrottlerOptions } from './keel-throttler-options';
import { SlidingWindowThrottlerStorage } from './sliding-window-throttler.storage';
import { KEEL_THROTTLER_OPTIONS } from './throttling.constants';

/** What the guard reads of a (Fastify) request. */
interface ThrottledRequest {
  /** Fastify's `request.ip`: the app's `trustProxy` setting already applied. */
  ip?: string;
  /** Set by the auth guard, which runs first. */
  user?: Principal;
  headers: Record<string, string | string[] | undefined>;
}

/** One throttler's answer for this request, for the `RateLimit-*` headers. */
interface ThrottlerUsage {
  name: string;
  limit: number;
  remaining: number;
  resetSec: number;
}

interface Denial {
  error: RateLimitExceededError | RateLimitUnavailableError;
  usage: ThrottlerUsage;
}

/** Accumulated across the throttlers of one request; the headers are written once. */
interface RequestThrottleState {
  policies: { name: string; limit: number; ttl: number }[];
  usages: ThrottlerUsage[];
  denial?: Denial;
}

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** One throttler as it applies to one route: its decorators' values, read once. */
interface RouteThrottler {
  throttler: ThrottlerOptions & { name: string };
  /** `@SkipThrottle({ <name>: true })`. */
  skip: boolean;
  skipIf: ((context: ExecutionContext) => boolean) | undefined;
  limit: Resolvable<number>;
  ttl: Resolvable<number>;
  /** Undefined: the resolved ttl. */
  blockDuration: Resolvable<number> | undefined;
  getTracker: ThrottlerGetTrackerFunction;
  generateKey: ThrottlerGenerateKeyFunction;
}

/** What the guard needs of a route's metadata, read once per handler and controller. */
interface RouteThrottling {
  /** A plain `@SkipThrottle()`. */
  skipAll: boolean;
  throttlers: RouteThrottler[];
  /** Throttlers the route or controller overrides with `@Throttle()`: their own buckets. */
  overridden: ReadonlySet<string>;
}

/**
 * @nestjs/throttler keeps the route's `@Throttle()` values under these metadata keys
 * (not exported from its package root).
 */
const THROTTLER_SKIP_KEY = 'THROTTLER:SKIP';
const THROTTLER_LIMIT = 'THROTTLER:LIMIT';
const THROTTLER_TTL = 'THROTTLER:TTL';
const THROTTLER_BLOCK_DURATION = 'THROTTLER:BLOCK_DURATION';
const THROTTLER_TRACKER = 'THROTTLER:TRACKER';
const THROTTLER_KEY_GENERATOR = 'THROTTLER:KEY_GENERATOR';

/**
 * `ThrottlerGuard` with Keel's policy:
 * - tracks the caller: `key:<apiKeyId>` for an API key, `user:<userId>` for a user (the
 *   `Principal` the auth guard put on `request.user`), otherwise `ip:<request.ip>`;
 *   `request.ip` honours only the app's `trustProxy`, so a forged `X-Forwarded-For`
 *   earns no quota;
 * - one bucket per caller and throttler across all routes; a route or controller with
 *   its own `@Throttle({ name: ... })` gets its own bucket for that throttler;
 * - sends `RateLimit-Limit`, `-Remaining`, `-Reset` (seconds) of the most restrictive
 *   throttler, `RateLimit-Policy` listing every applied one, and `Retry-After` on 429;
 * - on denial records `rate_limit.exceeded` (at most once per caller, throttler and
 *   window per replica) and throws `RateLimitExceededError`;
 * - a storage that throws never becomes a 500 (see `KeelThrottlerOptions.onStoreError`).
 *
 * It applies the base guard's rules (`@SkipThrottle`, `@Throttle` overrides, `skipIf`,
 * resolvable limits, per-route trackers and key generators) itself, with each route's
 * metadata read once instead of a dozen reflector lookups per request.
 */
@Injectable()
export class KeelThrottlerGuard extends ThrottlerGuard {
  private readonly states = new WeakMap<object, RequestThrottleState>();
  private readonly keelOptions: ResolvedKeelThrottlerOptions;
  /** Remembers recent audit records so that hammering writes one event per window. */
  private readonly audited: MemoryRateLimitStore;
  private storeFailing = false;
  /** The base guard's bound `getTracker`, when it is this class's own: called synchronously. */
  private defaultTracker: ThrottlerGetTrackerFunction | undefined;
  /** The route's throttling metadata, read on its first request. */
  private readonly routes = new PerRoute<RouteThrottling>((handler, controller) =>
    this.readRoute(handler, controller),
  );

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storageService: ThrottlerStorage,
    reflector: Reflector,
    @Optional() @Inject(KEEL_THROTTLER_OPTIONS) keelOptions?: KeelThrottlerOptions,
    @Optional() @Inject(AuditService) private readonly audit?: AuditService,
    @Optional() @Inject(Clock) clock?: Clock,
  ) {
    super(options, storageService, reflector);
    this.keelOptions = resolveKeelThrottlerOptions(keelOptions);
    this.audited = new MemoryRateLimitStore({
      clock: clock ?? systemClock,
      maxKeys: 10_000,
      sweepIntervalMs: 0,
    });
  }

  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    const configured = Array.isArray(this.options) ? undefined : this.options.getTracker;
    if (configured === undefined && this.getTracker === KeelThrottlerGuard.prototype.getTracker) {
      this.defaultTracker = this.commonOptions.getTracker;
    }
  }

  /**
   * A plain `@SkipThrottle()` marks the throttler named `default`; Keel's throttlers are
   * named, so it is read as "skip every limit" (`@SkipThrottle({ burst: true })` still
   * skips one).
   */
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return this.routes.of(context).skipAll || (await super.shouldSkip(context));
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    // The base guard's shouldSkip() answers false: only a subclass's own needs awaiting.
    const skip =
      this.shouldSkip === KeelThrottlerGuard.prototype.shouldSkip
        ? this.routes.of(context).skipAll
        : await this.shouldSkip(context);
    if (skip) return true;
    const { req, res } = this.getRequestResponse(context);
    const state: RequestThrottleState = { policies: [], usages: [] };
    this.states.set(req, state);
    let allowed = true;
    try {
      for (const route of this.routes.of(context).throttlers) {
        if (route.skip || route.skipIf?.(context)) continue;
        const { name } = route.throttler;
        // Awaited only when a function gave a promise: most limits are plain numbers.
        let limit = resolve(context, route.limit);
        if (typeof limit === 'object') limit = await limit;
        let ttl = resolve(context, route.ttl);
        if (typeof ttl === 'object') ttl = await ttl;
        ttl = toNumber(ttl, 'ttl', name);
        let blockDuration = resolve(context, route.blockDuration ?? ttl);
        if (typeof blockDuration === 'object') blockDuration = await blockDuration;
        const props: ThrottlerRequest = {
          context,
          limit: toNumber(limit, 'limit', name),
          ttl,
          throttler: route.throttler,
          blockDuration: toNumber(blockDuration, 'blockDuration', name),
          getTracker: route.getTracker,
          generateKey: route.generateKey,
        };
        // Counted at once in memory; awaited only for a store (Redis) or a tracker that must
        // be, or a subclass's own handleRequest.
        const passed =
          (this.handleRequest === KeelThrottlerGuard.prototype.handleRequest
            ? this.handleNow(props)
            : undefined) ?? (await this.handleRequest(props));
        allowed &&= passed;
      }
    } finally {
      this.states.delete(req);
    }
    this.writeHeaders(res, state);
    if (state.denial !== undefined) throw state.denial.error;
    return allowed;
  }

  /** Called by the base guard once per throttler that applies to the route. */
  protected override async handleRequest(requestProps: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = requestProps;
    const name = throttler.name ?? 'default';
    const { req } = this.getRequestResponse(context);
    const request = req as ThrottledRequest;
    // Called outside canActivate (a subclass): keep the state for this call only.
    const state = this.states.get(req) ?? { policies: [], usages: [] };
    if (this.settledWithoutCount(state, request, throttler, limit, ttl)) return true;

    const tracker =
      getTracker === this.defaultTracker ? this.trackerOf(request) : await getTracker(req, context);
    const key = generateKey(context, tracker, name);
    let record: ThrottlerStorageRecord;
    try {
      const storage = this.storageService;
      record =
        (storage instanceof SlidingWindowThrottlerStorage
          ? storage.incrementNow(key, ttl, limit, blockDuration, name)
          : undefined) ?? (await storage.increment(key, ttl, limit, blockDuration, name));
    } catch (error) {
      return this.onStoreError(state, name, limit, error);
    }
    return this.counted(state, request, tracker, throttler, limit, ttl, record);
  }

  /**
   * `handleRequest` without a promise turn, when nothing needs waiting for: the default
   * tracker and a store that counts in memory. `undefined` (and nothing done) otherwise.
   */
  private handleNow(requestProps: ThrottlerRequest): boolean | undefined {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = requestProps;
    const storage = this.storageService;
    if (
      getTracker !== this.defaultTracker ||
      !(storage instanceof SlidingWindowThrottlerStorage) ||
      !storage.countsNow
    ) {
      return undefined;
    }
    const { req } = this.getRequestResponse(context);
    const state = this.states.get(req);
    if (state === undefined) return undefined;
    const name = throttler.name ?? 'default';
    const request = req as ThrottledRequest;
    if (this.settledWithoutCount(state, request, throttler, limit, ttl)) return true;

    const tracker = this.trackerOf(request);
    let record: ThrottlerStorageRecord;
    try {
      record = storage.incrementNow(
        generateKey(context, tracker, name),
        ttl,
        limit,
        blockDuration,
        name,
      )!;
    } catch (error) {
      return this.onStoreError(state, name, limit, error);
    }
    return this.counted(state, request, tracker, throttler, limit, ttl, record);
  }

  /**
   * What comes before counting: an ignored user agent passes; otherwise the policy is listed
   * for the headers, and a request already denied by a shorter window passes here too
   * (spending none of this quota). True when there is nothing to count.
   */
  private settledWithoutCount(
    state: RequestThrottleState,
    request: ThrottledRequest,
    throttler: ThrottlerOptions,
    limit: number,
    ttl: number,
  ): boolean {
    const ignoreUserAgents = throttler.ignoreUserAgents ?? this.commonOptions.ignoreUserAgents;
    const userAgent = headerOf(request, 'user-agent');
    if (ignoreUserAgents?.some((pattern) => pattern.test(userAgent ?? '')) === true) return true;
    const showHeaders = throttler.setHeaders ?? this.commonOptions.setHeaders ?? true;
    if (showHeaders) state.policies.push({ name: throttler.name ?? 'default', limit, ttl });
    return state.denial !== undefined;
  }

  /** Notes one counted request: its quota for the headers, and a denial if it is over. */
  private counted(
    state: RequestThrottleState,
    request: ThrottledRequest,
    tracker: string,
    throttler: ThrottlerOptions,
    limit: number,
    ttl: number,
    record: ThrottlerStorageRecord,
  ): boolean {
    const name = throttler.name ?? 'default';
    const showHeaders = throttler.setHeaders ?? this.commonOptions.setHeaders ?? true;
    if (this.storeFailing) {
      this.storeFailing = false;
      this.logger.log('Rate-limit storage answers again');
    }
    const usage: ThrottlerUsage = {
      name,
      limit,
      remaining: Math.max(0, limit - record.totalHits),
      resetSec: Math.max(0, Math.ceil(record.timeToExpire)),
    };
    if (showHeaders) state.usages.push(usage);
    if (record.isBlocked) {
      const retryAfterSec = Math.max(1, Math.ceil(record.timeToBlockExpire));
      state.denial = {
        error: new RateLimitExceededError(name, limit, ttl, retryAfterSec),
        usage: { ...usage, remaining: 0, resetSec: retryAfterSec },
      };
      this.recordExceeded(request, tracker, name, limit, ttl);
    }
    return true;
  }

  /** The caller: its API key, its user, or its (proxy-aware, normalised) IP. */
  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    return Promise.resolve(this.trackerOf(req as unknown as ThrottledRequest));
  }

  private trackerOf({ user, ip }: ThrottledRequest): string {
    if (user?.kind === 'api-key' && user.apiKeyId !== undefined) return `key:${user.apiKeyId}`;
    if (user !== undefined) return `user:${user.userId}`;
    return `ip:${ip === undefined ? 'unknown' : normalizeIp(ip, this.ipv6SubnetPrefix)}`;
  }

  /**
   * `<tracker>`: one bucket per caller across routes. A route (or controller) that
   * overrides this throttler with `@Throttle()` counts in its own bucket, so its limit
   * neither shares nor truncates the caller's default window.
   */
  protected override generateKey(context: ExecutionContext, tracker: string, name: string): string {
    if (!this.routes.of(context).overridden.has(name)) return tracker;
    return `${context.getClass().name}.${context.getHandler().name}:${tracker}`;
  }

  private readRoute(handler: object, classRef: object): RouteThrottling {
    const targets = [handler, classRef] as Parameters<Reflector['getAllAndOverride']>[1];
    const read = <T>(key: string): T | undefined =>
      this.reflector.getAllAndOverride<T | undefined>(key, targets);
    const overridden = new Set<string>();
    const throttlers = (this.throttlers ?? []).map((options): RouteThrottler => {
      const name = options.name ?? 'default';
      const limit = read<Resolvable<number>>(THROTTLER_LIMIT + name);
      const ttl = read<Resolvable<number>>(THROTTLER_TTL + name);
      if (limit !== undefined || ttl !== undefined) overridden.add(name);
      return {
        throttler: { ...options, name },
        skip: Boolean(read<boolean>(THROTTLER_SKIP_KEY + name)),
        skipIf: options.skipIf ?? this.commonOptions.skipIf,
        limit: limit ?? options.limit,
        ttl: ttl ?? options.ttl,
        blockDuration:
          read<Resolvable<number>>(THROTTLER_BLOCK_DURATION + name) ?? options.blockDuration,
        getTracker:
          read<ThrottlerGetTrackerFunction>(THROTTLER_TRACKER + name) ??
          options.getTracker ??
          this.commonOptions.getTracker!,
        generateKey:
          read<ThrottlerGenerateKeyFunction>(THROTTLER_KEY_GENERATOR + name) ??
          options.generateKey ??
          this.commonOptions.generateKey!,
      };
    });
    return {
      skipAll: read<boolean>(`${THROTTLER_SKIP_KEY}default`) === true,
      throttlers,
      overridden,
    };
  }

  private onStoreError(
    state: RequestThrottleState,
    name: string,
    limit: number,
    error: unknown,
  ): boolean {
    const { onStoreError, storeErrorRetryAfterSec } = this.keelOptions;
    if (!this.storeFailing) {
      this.storeFailing = true;
      this.logger.error(
        `Rate-limit storage failed for throttler "${name}" (${onStoreError}): ${errorMessage(
          error,
        )}`,
        error instanceof Error ? error.stack : undefined,
      );
    }
    if (onStoreError === 'fail-closed') {
      state.denial = {
        error: new RateLimitUnavailableError(name, storeErrorRetryAfterSec),
        usage: { name, limit, remaining: 0, resetSec: storeErrorRetryAfterSec },
      };
    }
    return true;
  }

  private recordExceeded(
    request: ThrottledRequest,
    tracker: string,
    name: string,
    limit: number,
    windowMs: number,
  ): void {
    if (this.audit === undefined) return;
    if (!this.audited.hitSync(`${name}:${tracker}`, 1, windowMs).allowed) return;
    const { user } = request;
    const actor =
      user === undefined
        ? undefined
        : user.kind === 'api-key' && user.apiKeyId !== undefined
          ? `api-key:${user.apiKeyId}`
          : `user:${user.userId}`;
    try {
      this.audit.record({
        type: 'rate_limit.exceeded',
        ...(actor !== undefined && { actor }),
        ...(user !== undefined && { tenantId: user.tenantId }),
        ...(request.ip !== undefined && { ip: request.ip }),
        ...(headerOf(request, 'user-agent') !== undefined && {
          userAgent: headerOf(request, 'user-agent'),
        }),
        details: { throttler: name, limit, windowMs },
      });
    } catch {
      // Auditing must not turn a 429 into a 500.
    }
  }

  private writeHeaders(res: Record<string, unknown>, state: RequestThrottleState): void {
    const { denial } = state;
    const shown = denial?.usage ?? mostRestrictive(state.usages);
    if (shown !== undefined) {
      this.setResponseHeader(res, 'RateLimit-Limit', shown.limit);
      this.setResponseHeader(res, 'RateLimit-Remaining', shown.remaining);
      this.setResponseHeader(res, 'RateLimit-Reset', shown.resetSec);
    }
    if (state.policies.length > 0) {
      const policy = state.policies
        .map(
          ({ name, limit, ttl }) =>
            `${limit};w=${Math.max(1, Math.ceil(ttl / 1_000))};name="${name}"`,
        )
        .join(', ');
      this.setResponseHeader(res, 'RateLimit-Policy', policy);
    }
    if (denial !== undefined) {
      this.setResponseHeader(res, 'Retry-After', denial.error.retryAfterSec);
    }
  }
}

/** Least remaining; on a tie the one that frees up last. */
function mostRestrictive(usages: readonly ThrottlerUsage[]): ThrottlerUsage | undefined {
  let shown: ThrottlerUsage | undefined;
  for (const usage of usages) {
    if (
      shown === undefined ||
      usage.remaining < shown.remaining ||
      (usage.remaining === shown.remaining && usage.resetSec > shown.resetSec)
    ) {
      shown = usage;
    }
  }
  return shown;
}

function headerOf(request: ThrottledRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function resolve(context: ExecutionContext, value: Resolvable<number>): number | Promise<number> {
  return typeof value === 'function' ? value(context) : value;
}

/** As @nestjs/throttler reads a limit, ttl or block duration (numeric strings accepted). */
function toNumber(value: unknown, option: string, throttler: string): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || Number.isNaN(number)) {
    throw new Error(
      `Invalid "${option}" for the "${throttler}" throttler: expected a number, got ${JSON.stringify(value)}.`,
    );
  }
  return number;
}
