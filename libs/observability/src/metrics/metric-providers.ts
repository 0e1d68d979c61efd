import type { FactoryProvider } from '@nestjs/common';
import { getToken } from '@willsoto/nestjs-prometheus';
import type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from 'prom-client';

import { MetricsService } from './metrics.service';

/**
 * Metrics as injectable providers, under @willsoto/nestjs-prometheus' tokens so its
 * `@InjectMetric(name)` works, but registered on Keel's registry: that package's own
 * `make*Provider` helpers always use prom-client's global registry.
 */
export function makeCounterProvider<L extends string>(
  config: Omit<CounterConfiguration<L>, 'registers'>,
): FactoryProvider {
  return {
    provide: getToken(config.name),
    inject: [MetricsService],
    useFactory: (m: MetricsService) => m.counter(config),
  };
}

export function makeGaugeProvider<L extends string>(
  config: Omit<GaugeConfiguration<L>, 'registers'>,
): FactoryProvider {
  return {
    provide: getToken(config.name),
    inject: [MetricsService],
    useFactory: (m: MetricsService) => m.gauge(config),
  };
}

export function makeHistogramProvider<L extends string>(
  config: Omit<HistogramConfiguration<L>, 'registers'>,
): FactoryProvider {
  return {
    provide: getToken(config.name),
    inject: [MetricsService],
    useFactory: (m: MetricsService) => m.histogram(config),
  };
}
