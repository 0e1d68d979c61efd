import type { DependencyPolicy, DependencyPolicyOptions } from '@keel/resilience';
import { createDependencyPolicy, resolveDependencyPolicyOptions } from '@keel/resilience';

import { AnthropicProvider } from '../providers/anthropic.provider';
import type { ChatCompletionChunk, ChatMessage, ChatRequest } from '../providers/chat.types';
import type { LlmProvider } from '../providers/llm-provider';
import { OpenAiCompatibleProvider } from '../providers/openai-compatible.provider';
import { startFakeAnthropicServer, startFakeOpenAiServer } from '../testing';
import type { FakeVendorServer, FakeVendorStep } from '../testing';
import { AllTargetsFailedError } from './errors/all-targets-failed.error';
import { UnknownModelError } from './errors/unknown-model.error';
import { ModelRouter } from './model-router.service';

const OPENAI_KEY = 'sk-openai-secret';
const ANTHROPIC_KEY = 'sk-ant-secret';

const policyOptions = (overrides: DependencyPolicyOptions = {}): DependencyPolicyOptions => ({
  retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20, budget: false },
  timeout: { perAttemptMs: 200 },
  circuitBreaker: { kind: 'consecutive', threshold: 3, halfOpenAfterMs: 60_000 },
  ...overrides,
});

const request = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'default',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 64,
  ...overrides,
});

async function collect(chunks: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const all: ChatCompletionChunk[] = [];
  for await (const chunk of chunks) all.push(chunk);
  return all;
}

const textOf = (chunks: ChatCompletionChunk[]) =>
  chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');

describe('ModelRouter (real providers, fake vendors, real policies)', () => {
  let openaiFake: FakeVendorServer;
  let anthropicFake: FakeVendorServer;
  let policies: Map<string, DependencyPolicy>;

  beforeAll(async () => {
    [openaiFake, anthropicFake] = await Promise.all([
      startFakeOpenAiServer(),
      startFakeAnthropicServer(),
    ]);
  });

  afterAll(async () => {
    await Promise.all([openaiFake.close(), anthropicFake.close()]);
  });

  beforeEach(() => {
    openaiFake.reset();
    anthropicFake.reset();
  });

  function buildRouter(options: DependencyPolicyOptions = {}): ModelRouter {
    const providers = new Map<string, LlmProvider>([
      [
        'openai',
        new OpenAiCompatibleProvider({
          name: 'openai',
          baseUrl: openaiFake.url,
          apiKey: OPENAI_KEY,
        }),
      ],
      [
        'anthropic',
        new AnthropicProvider({
          name: 'anthropic',
          baseUrl: anthropicFake.url,
          apiKey: ANTHROPIC_KEY,
        }),
      ],
    ]);
    policies = new Map(
      [...providers.keys()].map((name) => [
        name,
        createDependencyPolicy(name, resolveDependencyPolicyOptions(name, policyOptions(options)), {
          logger: { warn: () => {} },
        }),
      ]),
    );
    return new ModelRouter({
      providers,
      routing: {
        aliases: {
          default: [
            { provider: 'openai', model: 'gpt-4o-mini' },
            { provider: 'anthropic', model: 'claude-haiku' },
          ],
        },
      },
      policyFor: (name) => policies.get(name)!,
    });
  }

  const signal = () => new AbortController().signal;

  it('serves from the primary when it works', async () => {
    const router = buildRouter();
    const result = await router.complete(request(), { signal: signal() });
    expect(result.target).toEqual({ provider: 'openai', model: 'gpt-4o-mini' });
    expect(result.attempts).toEqual([]);
    expect(result.completion.model).toBe('gpt-4o-mini');
    expect(anthropicFake.requestCount).toBe(0);
  });

  it('serves provider/model directly, and rejects an unknown model', async () => {
    const router = buildRouter();
    const result = await router.complete(request({ model: 'anthropic/claude-sonnet' }), {
      signal: signal(),
    });
    expect(result.target).toEqual({ provider: 'anthropic', model: 'claude-sonnet' });
    expect(result.completion.model).toBe('claude-sonnet');
    await expect(
      router.complete(request({ model: 'gpt-5' }), { signal: signal() }),
    ).rejects.toThrow(UnknownModelError);
  });

  it('falls back when the primary answers 500', async () => {
    openaiFake.setDefault({ status: 500 });
    const result = await buildRouter().complete(request(), { signal: signal() });
    expect(result.target).toEqual({ provider: 'anthropic', model: 'claude-haiku' });
    expect(result.completion.model).toBe('claude-haiku');
    expect(result.completion.choices[0].message.content).toBe('ok');
    expect(result.attempts).toEqual([
      { provider: 'openai', model: 'gpt-4o-mini', error: 'status_500' },
    ]);
    expect(openaiFake.requestCount).toBe(2); // retried once by its policy
    expect(anthropicFake.requestCount).toBe(1);
  });

  it('falls back when the primary hangs past the attempt timeout, closing its sockets', async () => {
    openaiFake.setDefault({ hang: true });
    const result = await buildRouter().complete(request(), { signal: signal() });
    expect(result.target.provider).toBe('anthropic');
    expect(result.attempts).toEqual([
      { provider: 'openai', model: 'gpt-4o-mini', error: 'timeout_attempt' },
    ]);
    await openaiFake.waitForClientClose(1_000);
    await openaiFake.waitForClientClose(1_000);
    expect(openaiFake.requests.map((r) => r.clientClosed)).toEqual([true, true]);
  });

  it('retries a 429 within maxDelayMs despite Retry-After, then falls back', async () => {
    const router = buildRouter();
    openaiFake.enqueue({ status: 429, retryAfterSec: 1 });
    const retried = await router.complete(request(), { signal: signal() });
    expect(retried.target.provider).toBe('openai');
    expect(openaiFake.requestCount).toBe(2);

    openaiFake.enqueue({ status: 429, retryAfterSec: 1 }, { status: 429, retryAfterSec: 1 });
    const fellBack = await router.complete(request(), { signal: signal() });
    // The retry came well before the 1 s Retry-After: maxDelayMs caps it.
    const [first, second] = openaiFake.requests.slice(-2);
    expect(second.receivedAt - first.receivedAt).toBeLessThan(1_000);
    expect(fellBack.target.provider).toBe('anthropic');
    expect(fellBack.attempts).toEqual([
      { provider: 'openai', model: 'gpt-4o-mini', error: 'status_429' },
    ]);
  });

  it('throws a 400 at once without calling the fallback', async () => {
    const bad = request({ messages: 'nope' as unknown as ChatMessage[] });
    await expect(buildRouter().complete(bad, { signal: signal() })).rejects.toMatchObject({
      status: 400,
    });
    expect(openaiFake.requestCount).toBe(1);
    expect(anthropicFake.requestCount).toBe(0);
  });

  it('throws AllTargetsFailedError (502) naming the targets, no secrets', async () => {
    openaiFake.setDefault({ status: 503 });
    anthropicFake.setDefault({ status: 529 });
    const error = await buildRouter()
      .complete(request(), { signal: signal() })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AllTargetsFailedError);
    const failed = error as AllTargetsFailedError;
    expect(failed.getStatus()).toBe(502);
    expect(failed.message).toBe(
      'Every target for model "default" failed: openai/gpt-4o-mini (status_503), anthropic/claude-haiku (status_529)',
    );
    expect(failed.message).not.toMatch(/secret|127\.0\.0\.1/);
    expect(failed.lastError).toMatchObject({ status: 529 });
    expect(failed.cause).toBe(failed.lastError);
  });

  it('stops sending to the primary once its breaker opens, still serving via the fallback', async () => {
    openaiFake.setDefault({ status: 500 });
    const router = buildRouter();
    for (let call = 0; call < 6; call++) {
      const result = await router.complete(request(), { signal: signal() });
      expect(result.target.provider).toBe('anthropic');
    }
    // Call 1: two failed attempts; call 2: the third opens the breaker. Then nothing.
    expect(openaiFake.requestCount).toBe(3);
    expect(policies.get('openai')!.breakerState).toBe('open');
    const last = await router.complete(request(), { signal: signal() });
    expect(last.attempts).toEqual([
      { provider: 'openai', model: 'gpt-4o-mini', error: 'circuit_open' },
    ]);
    expect(openaiFake.requestCount).toBe(3);
    expect(anthropicFake.requestCount).toBe(7);
  });

  it("passes the caller's abort through without falling back", async () => {
    openaiFake.setDefault({ hang: true });
    const controller = new AbortController();
    const pending = buildRouter(policyOptions({ timeout: { perAttemptMs: 5_000 } })).complete(
      request(),
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toBeDefined();
    await openaiFake.waitForClientClose(1_000);
    expect(anthropicFake.requestCount).toBe(0);
  });

  describe('streams', () => {
    it('serves a stream from the primary', async () => {
      openaiFake.enqueue({ stream: { chunks: ['Hel', 'lo'] } });
      const routed = await buildRouter().stream(request(), { signal: signal() });
      expect(routed.target.provider).toBe('openai');
      const chunks = await collect(routed.chunks);
      expect(textOf(chunks)).toBe('Hello');
      expect(chunks.at(-1)?.usage).toBeTruthy();
    });

    it('falls back when the primary stream is cut before its first chunk', async () => {
      openaiFake.setDefault({ cutStreamAfter: 0 });
      anthropicFake.enqueue({ stream: { chunks: ['Hel', 'lo'] } });
      const routed = await buildRouter().stream(request(), { signal: signal() });
      expect(routed.target).toEqual({ provider: 'anthropic', model: 'claude-haiku' });
      expect(routed.attempts).toEqual([
        { provider: 'openai', model: 'gpt-4o-mini', error: 'network' },
      ]);
      const chunks = await collect(routed.chunks);
      expect(textOf(chunks)).toBe('Hello');
      expect(chunks.every((chunk) => chunk.model === 'claude-haiku')).toBe(true);
    });

    it('propagates a cut after the first chunk, without switching targets', async () => {
      openaiFake.enqueue({ cutStreamAfter: 1, chunks: ['Hel', 'lo'] });
      const routed = await buildRouter().stream(request(), { signal: signal() });
      expect(routed.target.provider).toBe('openai');
      const seen: string[] = [];
      await expect(
        (async () => {
          for await (const chunk of routed.chunks) seen.push(chunk.choices[0]?.delta.content ?? '');
        })(),
      ).rejects.toBeDefined();
      expect(seen.join('')).toBe('Hel');
      expect(anthropicFake.requestCount).toBe(0);
      expect(openaiFake.requestCount).toBe(1);
    });

    it('closes the upstream when the caller aborts or stops reading', async () => {
      const router = buildRouter();
      openaiFake.enqueue({ stream: { chunks: ['a', 'b', 'c', 'd'], delayMs: 100 } });
      const controller = new AbortController();
      const routed = await router.stream(request(), { signal: controller.signal });
      const reading = collect(routed.chunks);
      controller.abort();
      await expect(reading).rejects.toBeDefined();
      await openaiFake.waitForClientClose(1_000);

      openaiFake.enqueue({ stream: { chunks: ['a', 'b', 'c', 'd'], delayMs: 100 } });
      const second = await router.stream(request(), { signal: signal() });
      for await (const _chunk of second.chunks) break;
      await openaiFake.waitForClientClose(1_000);
    });
  });

  it('succeeds on at least 99.9 % of 1 000 calls while the primary fails in a mix', async () => {
    const random = mulberry32(42);
    const mix = (): FakeVendorStep => {
      const roll = random();
      if (roll < 0.35) return { status: 500 };
      if (roll < 0.55) return { status: 429, retryAfterSec: 1 };
      if (roll < 0.7) return { cutStreamAfter: 0 };
      if (roll < 0.73) return { hang: true };
      if (roll < 0.76) return { status: 503 };
      return { reply: { content: 'ok' } };
    };
    const router = buildRouter(
      policyOptions({
        timeout: { perAttemptMs: 250 },
        circuitBreaker: { kind: 'consecutive', threshold: 3, halfOpenAfterMs: 20 },
      }),
    );
    // The first calls through each SDK are slow (module loading, JIT), not the fakes.
    await router.complete(request({ model: 'anthropic/claude-haiku' }), { signal: signal() });
    await router.complete(request({ model: 'openai/gpt-4o-mini' }), { signal: signal() });
    for (let step = 0; step < 3_000; step++) openaiFake.enqueue(mix());
    openaiFake.setDefault({ status: 500 });

    const total = 1_000;
    let next = 0;
    let succeeded = 0;
    const servedBy = { openai: 0, anthropic: 0 } as Record<string, number>;
    const worker = async () => {
      while (next < total) {
        const index = next++;
        try {
          if (index % 10 === 0) {
            const routed = await router.stream(request(), { signal: signal() });
            if (textOf(await collect(routed.chunks)) !== 'ok') continue;
            servedBy[routed.target.provider] += 1;
          } else {
            const routed = await router.complete(request(), { signal: signal() });
            if (routed.completion.choices[0].message.content !== 'ok') continue;
            servedBy[routed.target.provider] += 1;
          }
          succeeded += 1;
        } catch {
          // counted as a failure
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));

    expect(succeeded / total).toBeGreaterThanOrEqual(0.999);
    // The mix really reached the primary, between its breaker's open spells.
    expect(openaiFake.requestCount).toBeGreaterThan(50);
    expect(servedBy.anthropic).toBeGreaterThan(100);
  }, 30_000);
});

/** A small seeded PRNG, so the failure mix is the same on every run. */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
