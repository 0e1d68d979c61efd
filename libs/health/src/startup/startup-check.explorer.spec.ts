import { Injectable, Logger, Scope } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';

import { StartupCheck } from './startup-check.decorator';
import { StartupCheckExplorer } from './startup-check.explorer';
import { StartupOrchestrator } from './startup-orchestrator.service';

@Injectable()
class DatabaseChecks {
  readonly calls: string[] = [];
  readonly signals: AbortSignal[] = [];

  @StartupCheck({ priority: 10 })
  async connect(signal: AbortSignal): Promise<void> {
    await Promise.resolve();
    this.calls.push('connect');
    this.signals.push(signal);
  }

  @StartupCheck({ name: 'migrations', dependsOn: ['DatabaseChecks.connect'], retries: 2 })
  migrate(): Promise<void> {
    this.calls.push('migrate');
    return Promise.resolve();
  }

  notACheck(): void {
    this.calls.push('notACheck');
  }
}

@Injectable()
class SearchChecks {
  @StartupCheck({ critical: false, timeoutMs: 2_000, backoffMs: 100 })
  ping(): Promise<void> {
    return Promise.reject(new Error('search unreachable'));
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequest {
  @StartupCheck()
  check(): Promise<void> {
    return Promise.resolve();
  }
}

describe('StartupCheckExplorer', () => {
  let moduleRef: TestingModule;
  let orchestrator: StartupOrchestrator;

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation();
    jest.spyOn(Logger.prototype, 'warn').mockImplementation();
    moduleRef = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [
        StartupOrchestrator,
        StartupCheckExplorer,
        DatabaseChecks,
        SearchChecks,
        PerRequest,
      ],
    }).compile();
    await moduleRef.init();
    orchestrator = moduleRef.get(StartupOrchestrator);
  });

  afterEach(async () => {
    await moduleRef.close();
    jest.restoreAllMocks();
  });

  it('registers each decorated method with its options and a default name', () => {
    expect(orchestrator.states()).toEqual([
      expect.objectContaining({ name: 'DatabaseChecks.connect', critical: true, dependsOn: [] }),
      expect.objectContaining({ name: 'migrations', dependsOn: ['DatabaseChecks.connect'] }),
      expect.objectContaining({ name: 'SearchChecks.ping', critical: false }),
    ]);
  });

  it('runs the methods bound to their instance, passing the attempt signal', async () => {
    await orchestrator.run();
    const checks = moduleRef.get(DatabaseChecks);
    expect(checks.calls).toEqual(['connect', 'migrate']);
    expect(checks.signals[0]).toBeInstanceOf(AbortSignal);
    expect(orchestrator.snapshot().status).toBe('degraded');
    expect(orchestrator.states().find((s) => s.name === 'SearchChecks.ping')).toMatchObject({
      status: 'failed',
      error: 'search unreachable',
    });
  });

  it('registers nothing twice when initialised again', () => {
    moduleRef.get(StartupCheckExplorer).onModuleInit();
    expect(orchestrator.states()).toHaveLength(3);
  });
});
