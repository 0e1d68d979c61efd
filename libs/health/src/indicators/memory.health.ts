import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

import { HEALTH_OPTIONS } from '../health.constants';
import type { ResolvedHealthOptions } from '../interfaces/health-options.interface';

/** Heap used and resident set size against their thresholds (`/health` only, never liveness). */
@Injectable()
export class MemoryHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(HEALTH_OPTIONS) private readonly options: ResolvedHealthOptions,
  ) {}

  heap(key = 'heap') {
    const usedBytes = process.memoryUsage().heapUsed;
    return this.compare(key, usedBytes, this.options.heapThresholdBytes);
  }

  rss(key = 'rss') {
    return this.compare(key, process.memoryUsage.rss(), this.options.rssThresholdBytes);
  }

  private compare(key: string, usedBytes: number, thresholdBytes: number) {
    const check = this.indicators.check(key);
    const details = { usedBytes, thresholdBytes };
    return usedBytes > thresholdBytes ? check.down(details) : check.up(details);
  }
}
