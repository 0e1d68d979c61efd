import type { Server } from 'node:http';
import { createServer } from 'node:http';

import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Inject, Injectable, Logger } from '@nestjs/common';

import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { OBSERVABILITY_OPTIONS } from '../observability.constants';
import { bearerTokenMatches } from './bearer-token';
import { MetricsService } from './metrics.service';

/** Serves metrics on their own port when `metrics.port` is set, away from public traffic. */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('MetricsServer');
  private server: Server | undefined;

  constructor(
    private readonly metrics: MetricsService,
    @Inject(OBSERVABILITY_OPTIONS) private readonly options: ResolvedObservabilityOptions,
  ) {}

  /** The bound port (useful with port 0), once listening. */
  get port(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { port, host, path, bearerToken } = this.options.metrics;
    if (port === undefined || !this.options.metrics.enabled) return;
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?', 1)[0] !== path) {
        res.writeHead(404).end();
      } else if (!bearerTokenMatches(req.headers.authorization, bearerToken)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
      } else {
        this.metrics.scrape().then(
          (body) => res.writeHead(200, { 'content-type': this.metrics.contentType }).end(body),
          () => res.writeHead(500).end(),
        );
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    this.server = server;
    this.logger.log(`Metrics on http://${host}:${this.port}${path}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}
