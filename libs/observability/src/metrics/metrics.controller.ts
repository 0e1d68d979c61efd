import {
  Controller,
  Get,
  Headers,
  Inject,
  NotFoundException,
  Res,
  UnauthorizedException,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { OBSERVABILITY_OPTIONS } from '../observability.constants';
import { bearerTokenMatches } from './bearer-token';
import { MetricsService } from './metrics.service';

/**
 * `GET /metrics` on the app's port (its path comes from the `metrics.path` option through
 * @willsoto/nestjs-prometheus). Serves the module's registry, not prom-client's global one.
 */
@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(OBSERVABILITY_OPTIONS) private readonly options: ResolvedObservabilityOptions,
  ) {}

  @Get()
  async index(
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const { enabled, port } = this.options.metrics;
    // Off, or served on its own port: nothing here.
    if (!enabled || port !== undefined) throw new NotFoundException();
    if (!bearerTokenMatches(authorization, this.options.metrics.bearerToken)) {
      void reply.header('www-authenticate', 'Bearer');
      throw new UnauthorizedException('A valid bearer token is required for metrics.');
    }
    void reply.header('content-type', this.metrics.contentType);
    return this.metrics.scrape();
  }
}
