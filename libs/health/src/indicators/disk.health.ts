import { statfs } from 'node:fs/promises';

import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

import { HEALTH_OPTIONS } from '../health.constants';
import type { ResolvedHealthOptions } from '../interfaces/health-options.interface';

/** Used share of the filesystem holding `diskPath` (SQLite files, logs). */
@Injectable()
export class DiskHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(HEALTH_OPTIONS) private readonly options: ResolvedHealthOptions,
  ) {}

  async isHealthy(key = 'disk') {
    const stats = await statfs(this.options.diskPath);
    const usedPercent = stats.blocks > 0 ? 1 - stats.bavail / stats.blocks : 0;
    const details = {
      usedPercent: Math.round(usedPercent * 1000) / 1000,
      thresholdPercent: this.options.diskThresholdPercent,
      freeBytes: stats.bavail * stats.bsize,
    };
    const check = this.indicators.check(key);
    return usedPercent > this.options.diskThresholdPercent
      ? check.down(details)
      : check.up(details);
  }
}
