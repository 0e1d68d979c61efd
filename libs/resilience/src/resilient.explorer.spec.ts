import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';

import { Resilient } from './decorators/resilient.decorator';
import { UnknownDependencyError } from './errors/unknown-dependency.error';
import { ResilienceMetrics } from './metrics/resilience-metrics';
import { ResilienceModule } from './resilience.module';

const unavailable = (): Error => Object.assign(new Error('503 from upstream'), { status: 503 });

@Injectable()
class CompletionClient {
  readonly seen: { prompt: string; options?: { model: string }; signal?: AbortSignal }[] = [];
  failuresLeft = 0;

  @Resilient('openai')
  async complete(
    prompt: string,
    options?: { model: string },
    signal?: AbortSignal,
  ): Promise<string> {
    await Promise.resolve();
    this.seen.push({ prompt, options, signal });
    if (this.failuresLeft-- > 0) throw unavailable();
    return `${prompt}:${options?.model ?? 'default'}`;
  }

  @Resilient('openai')
  hang(signal?: AbortSignal): Promise<never> {
    return new Promise((_resolve, reject) =>
      signal?.addEventListener('abort', () => reject(new Error('aborted by signal'))),
    );
  }

  @Resilient('openai')
  async undeclared(a: number, b: number, ...rest: unknown[]): Promise<unknown[]> {
    await Promise.resolve();
    return [a, b, ...rest];
  }

  plain(prompt: string): string {
    return prompt;
  }
}

@Module({ providers: [CompletionClient] })
class ClientModule {}

describe('ResilientExplorer', () => {
  let moduleRef: TestingModule;
  let client: CompletionClient;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        ResilienceModule.forRoot({
          isGlobal: true,
          policies: {
            openai: {
              retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0, budget: false },
              timeout: { perAttemptMs: 50 },
            },
          },
        }),
        ClientModule,
      ],
    }).compile();
    await moduleRef.init();
    client = moduleRef.get(CompletionClient);
  });

  afterEach(() => moduleRef.close());

  it('runs the call through the policy, retrying transient failures', async () => {
    client.failuresLeft = 2;
    await expect(client.complete('hi', { model: 'gpt' })).resolves.toBe('hi:gpt');
    expect(client.seen).toHaveLength(3);
    const text = await moduleRef.get(ResilienceMetrics).registry.metrics();
    expect(text).toContain('resilience_attempts_total{dependency="openai"} 3');
    expect(text).toContain('resilience_retries_total{dependency="openai"} 2');
  });

  it("passes each attempt's signal as the last declared parameter, even when optional ones are left out", async () => {
    await client.complete('hi');
    const [call] = client.seen;
    expect(call?.options).toBeUndefined();
    expect(call?.signal).toBeInstanceOf(AbortSignal);
    expect(call?.signal?.aborted).toBe(false);
  });

  it('aborts the signal when the attempt times out, so the real work stops', async () => {
    await expect(client.hang()).rejects.toThrow();
    const text = await moduleRef.get(ResilienceMetrics).registry.metrics();
    expect(text).toContain('resilience_timeouts_total{dependency="openai",scope="attempt"} 3');
  });

  it("lets the caller's own signal in that position cancel the whole call", async () => {
    const caller = new AbortController();
    const call = client.hang(caller.signal);
    caller.abort(new Error('user went away'));
    await expect(call).rejects.toThrow('user went away');
  });

  it('appends the signal after the arguments of a method that declares none', async () => {
    const result = await client.undeclared(1, 2);
    expect(result.slice(0, 2)).toEqual([1, 2]);
    expect(result[2]).toBeInstanceOf(AbortSignal);
  });

  it('leaves methods without the decorator alone, and keeps the method name', () => {
    expect(client.plain('x')).toBe('x');
    expect(client.complete.name).toBe('complete');
    expect(client.complete.length).toBe(3);
  });

  it('does not wrap twice when the module is imported twice', async () => {
    const twice = await Test.createTestingModule({
      imports: [
        ResilienceModule.forRoot({
          isGlobal: true,
          policies: { openai: { retry: { maxAttempts: 1 } } },
        }),
        ResilienceModule.forRoot({ policies: { openai: { retry: { maxAttempts: 1 } } } }),
        ClientModule,
      ],
    }).compile();
    await twice.init();
    const twiceClient = twice.get(CompletionClient);
    await twiceClient.complete('once');
    // Each module instance has its own policies and, without observability, its own registry.
    const texts = await Promise.all(
      twice.get(ResilienceMetrics, { each: true }).map((m) => m.registry.metrics()),
    );
    const counted = texts.filter((t) =>
      t.includes('resilience_attempts_total{dependency="openai"} 1'),
    );
    expect(texts).toHaveLength(2);
    expect(counted).toHaveLength(1);
    expect(texts.join()).not.toContain('resilience_attempts_total{dependency="openai"} 2');
    await twice.close();
  });

  it('fails the start when a decorated method names an unconfigured dependency', async () => {
    const app = await Test.createTestingModule({
      imports: [
        ResilienceModule.forRoot({ isGlobal: true, policies: { other: {} } }),
        ClientModule,
      ],
    }).compile();
    await expect(app.init()).rejects.toThrow(UnknownDependencyError);
    // close() awaits the failed initialisation again.
    await app.close().catch(() => undefined);
  });
});
