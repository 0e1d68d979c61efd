import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';

import { MetricsService } from './metrics/metrics.service';
import { OBSERVABILITY_OPTIONS } from './observability.constants';
import { ObservabilityModule } from './observability.module';

@Injectable()
class Settings {
  readonly level = 'warn' as const;
}

@Module({ providers: [Settings], exports: [Settings] })
class SettingsModule {}

describe('ObservabilityModule', () => {
  it('compiles with forRoot and resolves defaults', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ObservabilityModule.forRoot({ logging: { level: 'fatal' } })],
    }).compile();
    expect(moduleRef.get(OBSERVABILITY_OPTIONS)).toMatchObject({
      serviceName: 'keel',
      logging: { level: 'fatal', format: 'json', slowRequestMs: 1000 },
      metrics: { enabled: true, path: '/metrics' },
    });
    await moduleRef.close();
  });

  it('compiles with forRootAsync and injected dependencies', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ObservabilityModule.forRootAsync({
          imports: [SettingsModule],
          inject: [Settings],
          useFactory: (settings: Settings) => ({ logging: { level: settings.level } }),
        }),
      ],
    }).compile();
    expect(moduleRef.get(OBSERVABILITY_OPTIONS)).toMatchObject({ logging: { level: 'warn' } });
    await moduleRef.close();
  });

  it('uses its own registry, never prom-client global one', async () => {
    const { register } = await import('prom-client');
    const moduleRef = await Test.createTestingModule({
      imports: [ObservabilityModule.forRoot({ logging: { level: 'fatal' } })],
    }).compile();
    const metrics = moduleRef.get(MetricsService);
    metrics.counter({ name: 'own_registry_total', help: 'x' });
    expect(metrics.registry).not.toBe(register);
    expect(register.getSingleMetric('own_registry_total')).toBeUndefined();
    expect(await metrics.scrape()).toContain('http_server_request_duration_seconds');
    await moduleRef.close();
  });

  it('refuses invalid options, naming each', async () => {
    await expect(
      Test.createTestingModule({
        imports: [
          ObservabilityModule.forRoot({
            metrics: { path: 'metrics', bearerToken: 'short' },
            errors: { degradedErrorRate: 2 },
          }),
        ],
      }).compile(),
    ).rejects.toThrow(/metrics.path.*metrics.bearerToken.*errors.degradedErrorRate/);
  });
});
