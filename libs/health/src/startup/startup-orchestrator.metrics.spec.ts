import { MetricsService, ObservabilityModule } from '@keel/observability';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';

import { StartupClock } from './startup-clock';
import { StartupOrchestrator } from './startup-orchestrator.service';
import { FakeStartupClock } from './testing/fake-startup-clock';

describe('StartupOrchestrator metrics', () => {
  let moduleRef: TestingModule;
  let orchestrator: StartupOrchestrator;
  let metrics: MetricsService;
  let clock: FakeStartupClock;

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation();
    jest.spyOn(Logger.prototype, 'warn').mockImplementation();
    clock = new FakeStartupClock();
    moduleRef = await Test.createTestingModule({
      imports: [ObservabilityModule.forRoot({ logging: { level: 'fatal' } })],
      providers: [StartupOrchestrator, { provide: StartupClock, useValue: clock }],
    }).compile();
    orchestrator = moduleRef.get(StartupOrchestrator);
    metrics = moduleRef.get(MetricsService);
  });

  afterEach(async () => {
    await moduleRef.close();
    jest.restoreAllMocks();
  });

  it('reports startup_completed 0 until startup finishes, then 1', async () => {
    orchestrator.register({ name: 'db', run: () => Promise.resolve() });
    expect(await metrics.scrape()).toMatch(/^startup_completed 0$/m);
    await orchestrator.run();
    expect(await metrics.scrape()).toMatch(/^startup_completed 1$/m);
  });

  it('observes the duration and outcome of every attempted check, not skipped ones', async () => {
    let dbAttempts = 0;
    orchestrator.register({
      name: 'db',
      retries: 1,
      run: () => {
        clock.ms += 2_000;
        return ++dbAttempts === 1 ? Promise.reject(new Error('down')) : Promise.resolve();
      },
    });
    orchestrator.register({
      name: 'search',
      critical: false,
      run: () => Promise.reject(new Error('red')),
    });
    orchestrator.register({ name: 'reindex', dependsOn: ['search'], run: () => Promise.resolve() });
    await orchestrator.run();

    const text = await metrics.scrape();
    // 2 s per attempt plus 0.5 s backoff.
    expect(text).toContain(
      'startup_check_duration_seconds_sum{check="db",outcome="succeeded"} 4.5',
    );
    expect(text).toContain(
      'startup_check_duration_seconds_bucket{le="5",check="db",outcome="succeeded"} 1',
    );
    expect(text).toContain(
      'startup_check_duration_seconds_bucket{le="2.5",check="db",outcome="succeeded"} 0',
    );
    expect(text).toContain(
      'startup_check_duration_seconds_count{check="search",outcome="failed"} 1',
    );
    expect(text).toContain('startup_check_duration_seconds_bucket{le="60",');
    expect(text).not.toContain('check="reindex"');
    expect(text).toMatch(/^startup_completed 1$/m);
  });

  it('keeps startup_completed at 0 after a critical failure', async () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation();
    orchestrator.register({ name: 'db', run: () => Promise.reject(new Error('down')) });
    await expect(orchestrator.run()).rejects.toThrow('Startup check "db" failed');
    const text = await metrics.scrape();
    expect(text).toMatch(/^startup_completed 0$/m);
    expect(text).toContain('startup_check_duration_seconds_count{check="db",outcome="failed"} 1');
  });

  it('runs without metrics when MetricsService is absent', async () => {
    const bare = await Test.createTestingModule({ providers: [StartupOrchestrator] }).compile();
    const plain = bare.get(StartupOrchestrator);
    plain.register({ name: 'db', run: () => Promise.resolve() });
    await plain.run();
    expect(plain.completed).toBe(true);
    await bare.close();
  });
});
