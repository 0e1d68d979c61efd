import { errorMessage } from '@keel/core';
import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type {
  HealthCheckResult,
  HealthIndicatorFunction,
  HealthIndicatorResult,
} from '@nestjs/terminus';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';

import { HEALTH_OPTIONS } from '../health.constants';
import { DiskHealthIndicator } from '../indicators/disk.health';
import { EventLoopHealthIndicator } from '../indicators/event-loop.health';
import { MemoryHealthIndicator } from '../indicators/memory.health';
import type { ResolvedHealthOptions } from '../interfaces/health-options.interface';
import { HealthRegistry } from '../registry/health-registry.service';
import { GracefulShutdown } from '../shutdown/graceful-shutdown.service';
import { StartupOrchestrator } from '../startup';

/**
 * Kubernetes probes, in Terminus' JSON shape (`status`, `info`, `error`, `details`).
 * Never rate limited nor authenticated: they must answer whatever else is wrong.
 * Terminus' HealthCheckService is not used to run them: it answers 503 to every check
 * once shutdown starts, and liveness must stay 200 while the service drains.
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly registry: HealthRegistry,
    private readonly startup: StartupOrchestrator,
    private readonly shutdown: GracefulShutdown,
    private readonly eventLoop: EventLoopHealthIndicator,
    private readonly memory: MemoryHealthIndicator,
    private readonly disk: DiskHealthIndicator,
    @Inject(HEALTH_OPTIONS) private readonly options: ResolvedHealthOptions,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: fails only when the event loop is wedged' })
  live(@Res({ passthrough: true }) reply: FastifyReply) {
    return this.run(reply, [this.bounded('eventLoop', () => this.eventLoop.isHealthy())]);
  }

  @Get('ready')
  @ApiOperation({
    summary:
      'Readiness: 503 before startup completes, while shutting down, or when a critical dependency is down',
  })
  ready(@Res({ passthrough: true }) reply: FastifyReply) {
    return this.run(reply, [
      () => Promise.resolve(this.startupState()),
      () => {
        const check = this.indicators.check('shutdown');
        const result = this.shutdown.shuttingDown
          ? check.down({ phase: this.shutdown.phase })
          : check.up();
        return Promise.resolve(result);
      },
      ...this.registry.critical().map((c) => this.bounded(c.name, c.check)),
    ]);
  }

  @Get('startup')
  @ApiOperation({ summary: 'Startup checks: status, attempts, duration and error of each' })
  startupProbe(@Res({ passthrough: true }) reply: FastifyReply) {
    return this.run(reply, [() => Promise.resolve(this.startupState())]);
  }

  @Get()
  @ApiOperation({ summary: 'Every indicator with its details' })
  all(@Res({ passthrough: true }) reply: FastifyReply) {
    return this.run(reply, [
      () => Promise.resolve(this.startupState()),
      this.bounded('eventLoop', () => this.eventLoop.isHealthy()),
      this.bounded('heap', () => this.memory.heap()),
      this.bounded('rss', () => this.memory.rss()),
      this.bounded('disk', () => this.disk.isHealthy()),
      ...this.registry.all().map((c) => this.bounded(c.name, c.check)),
    ]);
  }

  private startupState(): HealthIndicatorResult {
    const snapshot = this.startup.snapshot();
    const check = this.indicators.check('startup');
    const details = { state: snapshot.status, checks: snapshot.checks };
    return this.startup.completed ? check.up(details) : check.down(details);
  }

  /** An indicator that throws, or answers after `indicatorTimeoutMs`, counts as down. */
  private bounded(
    name: string,
    check: () => Promise<HealthIndicatorResult> | HealthIndicatorResult,
  ): HealthIndicatorFunction {
    return async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<HealthIndicatorResult>((resolve) => {
        timer = setTimeout(
          () => resolve(this.indicators.check(name).down({ message: 'timed out' })),
          this.options.indicatorTimeoutMs,
        );
      });
      try {
        return await Promise.race([Promise.resolve().then(check), timeout]);
      } catch (error) {
        return this.indicators.check(name).down({
          message: errorMessage(error),
        });
      } finally {
        clearTimeout(timer);
      }
    };
  }

  private async run(reply: FastifyReply, checks: HealthIndicatorFunction[]) {
    const results = await Promise.all(checks.map((check) => Promise.resolve(check())));
    const details: HealthIndicatorResult = Object.assign({}, ...results) as HealthIndicatorResult;
    const entries = Object.entries(details);
    const up = entries.filter(([, r]) => r.status === 'up');
    const down = entries.filter(([, r]) => r.status !== 'up');
    const result: HealthCheckResult = {
      status: down.length === 0 ? 'ok' : 'error',
      info: Object.fromEntries(up),
      error: Object.fromEntries(down),
      details,
    };
    if (down.length > 0) void reply.status(HttpStatus.SERVICE_UNAVAILABLE);
    return this.options.showDetails ? result : { status: result.status };
  }
}
