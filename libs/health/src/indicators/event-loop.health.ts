import type { IntervalHistogram } from 'node:perf_hooks';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import type { OnApplicationShutdown } from '@nestjs/common';
import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

import { HEALTH_OPTIONS } from '../health.constants';
import type { ResolvedHealthOptions } from '../interfaces/health-options.interface';

const WINDOW_MS = 5_000;
const RESOLUTION_MS = 20;

/**
 * Event-loop delay (p99 of the last ~5 s, sampled by Node at 20 ms). A loop stuck for good
 * cannot answer the probe at all; this catches one that answers, but far too late.
 */
@Injectable()
export class EventLoopHealthIndicator implements OnApplicationShutdown {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({
    resolution: RESOLUTION_MS,
  });
  private windowStartedAt = Date.now();
  private lastP99Ms = 0;

  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(HEALTH_OPTIONS) private readonly options: ResolvedHealthOptions,
  ) {
    this.histogram.enable();
  }

  /** p99 delay in ms over the current window (or the previous one, just after a reset). */
  lagMs(): number {
    // Samples include the sampling interval itself: an idle loop reads ~20 ms.
    const p99 = Math.max(0, this.histogram.percentile(99) / 1e6 - RESOLUTION_MS);
    if (Date.now() - this.windowStartedAt >= WINDOW_MS) {
      this.lastP99Ms = p99;
      this.histogram.reset();
      this.windowStartedAt = Date.now();
    }
    return Math.max(p99, this.lastP99Ms);
  }

  isHealthy(key = 'eventLoop') {
    const lagMs = Math.round(this.lagMs());
    const check = this.indicators.check(key);
    const details = { lagMs, maxLagMs: this.options.maxEventLoopLagMs };
    return lagMs > this.options.maxEventLoopLagMs ? check.down(details) : check.up(details);
  }

  // Not onModuleDestroy: that runs before the drain, and liveness must keep measuring.
  onApplicationShutdown(): void {
    this.histogram.disable();
  }
}
