import { Clock, systemClock } from '@keel/observability';
import type { ExecutionContext } from '@nestjs/common';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  normalizeIp,
  ThrottlerGuard,
} from '@nestjs/throttler';
import type { ThrottlerModuleOptions, ThrottlerRequest, ThrottlerStorage } from '@nestjs/throttler';

import { AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/principal';
import { MemoryRateLimitStore } from '../rate-limit/memory-rate-limit.store';
import { RateLimitExceededError } from './errors/rate-limit-exceeded.error';
import { RateLimitUnavailableError } from './errors/rate-limit-unavailable.error';
import { resolveKeelThrottlerOptions } from './keel-throttler-options';
import type { KeelThrottlerOptions, ResolvedKeelThrottlerOptions } from './keel-throttler-options';
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

/**
 * @nestjs/throttler keeps the route's `@Throttle()` values under these metadata keys
 * (not exported from its package root).
 */
const THROTTLER_SKIP_KEY = 'THROTTLER:SKIP';
const THROTTLER_LIMIT = 'THROTTLER:LIMIT';
const THROTTLER_TTL = 'THROTTLER:TTL';

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
 */
@Injectable()
export class KeelThrottlerGuard extends ThrottlerGuard {
  private readonly states = new WeakMap<object, RequestThrottleState>();
  private readonly keelOptions: ResolvedKeelThrottlerOptions;
  /** Remembers recent audit records so that hammering writes one event per window. */
  private readonly audited: MemoryRateLimitStore;
  private storeFailing = false;

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

  /**
   * A plain `@SkipThrottle()` marks the throttler named `default`; Keel's throttlers are
   * named, so it is read as "skip every limit" (`@SkipThrottle({ burst: true })` still
   * skips one).
   */
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    const skipAll = this.reflector.getAllAndOverride<boolean | undefined>(
      `${THROTTLER_SKIP_KEY}default`,
      [context.getHandler(), context.getClass()],
    );
    return skipAll === true || (await super.shouldSkip(context));
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const { req, res } = this.getRequestResponse(context);
    const state: RequestThrottleState = { policies: [], usages: [] };
    this.states.set(req, state);
    try {
      await super.canActivate(context);
    } finally {
      this.states.delete(req);
    }
    this.writeHeaders(res, state);
    if (state.denial !== undefined) throw state.denial.error;
    return true;
  }

  /** Called by the base guard once per throttler that applies to the route. */
  protected override async handleRequest(requestProps: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = requestProps;
    const name = throttler.name ?? 'default';
    const { req } = this.getRequestResponse(context);
    const request = req as ThrottledRequest;
    const ignoreUserAgents = throttler.ignoreUserAgents ?? this.commonOptions.ignoreUserAgents;
    const userAgent = headerOf(request, 'user-agent');
    if (ignoreUserAgents?.some((pattern) => pattern.test(userAgent ?? '')) === true) return true;

    let state = this.states.get(req);
    if (state === undefined) {
      // Called outside canActivate (a subclass): keep the state for this call only.
      state = { policies: [], usages: [] };
    }
    const showHeaders = throttler.setHeaders ?? this.commonOptions.setHeaders ?? true;
    if (showHeaders) state.policies.push({ name, limit, ttl });
    // Already denied by a shorter window: list the policy, spend none of this quota.
    if (state.denial !== undefined) return true;

    const tracker = await getTracker(req, context);
    const key = generateKey(context, tracker, name);
    let record: Awaited<ReturnType<ThrottlerStorage['increment']>>;
    try {
      record = await this.storageService.increment(key, ttl, limit, blockDuration, name);
    } catch (error) {
      return this.onStoreError(state, name, limit, error);
    }
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
    const { user, ip } = req as unknown as ThrottledRequest;
    if (user?.kind === 'api-key' && user.apiKeyId !== undefined) {
      return Promise.resolve(`key:${user.apiKeyId}`);
    }
    if (user !== undefined) return Promise.resolve(`user:${user.userId}`);
    return Promise.resolve(
      `ip:${ip === undefined ? 'unknown' : normalizeIp(ip, this.ipv6SubnetPrefix)}`,
    );
  }

  /**
   * `<tracker>`: one bucket per caller across routes. A route (or controller) that
   * overrides this throttler with `@Throttle()` counts in its own bucket, so its limit
   * neither shares nor truncates the caller's default window.
   */
  protected override generateKey(context: ExecutionContext, tracker: string, name: string): string {
    const targets = [context.getHandler(), context.getClass()];
    const overridden =
      this.reflector.getAllAndOverride<unknown>(THROTTLER_LIMIT + name, targets) !== undefined ||
      this.reflector.getAllAndOverride<unknown>(THROTTLER_TTL + name, targets) !== undefined;
    if (!overridden) return tracker;
    return `${context.getClass().name}.${context.getHandler().name}:${tracker}`;
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
        `Rate-limit storage failed for throttler "${name}" (${onStoreError}): ${
          error instanceof Error ? error.message : String(error)
        }`,
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
