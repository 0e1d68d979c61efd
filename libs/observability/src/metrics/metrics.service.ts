import { Inject, Injectable } from '@nestjs/common';
import type {
  CounterConfiguration,
  GaugeConfiguration,
  HistogramConfiguration,
  Metric,
} from 'prom-client';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import { METRICS_REGISTRY } from '../observability.constants';

/**
 * Declares metrics on the module's registry (never prom-client's global one). Other
 * libraries call it from their providers; declaring a name twice returns the first
 * metric, so two modules may share one.
 */
@Injectable()
export class MetricsService {
  constructor(@Inject(METRICS_REGISTRY) readonly registry: Registry) {}

  counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return this.declare(config.name, () => new Counter({ ...config, registers: [this.registry] }));
  }

  gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return this.declare(config.name, () => new Gauge({ ...config, registers: [this.registry] }));
  }

  histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return this.declare(
      config.name,
      () => new Histogram({ ...config, registers: [this.registry] }),
    );
  }

  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private declare<M extends Metric>(name: string, create: () => M): M {
    return (this.registry.getSingleMetric(name) as M | undefined) ?? create();
  }
}
