import type { Redis } from 'ioredis';

import { DEV_PROVIDER_CONFIG, LLM_VENDOR_POLICY, resolveGatewayOptions } from './gateway-options';
import { InvalidProviderConfigError } from './providers/errors/invalid-provider-config.error';
import type { LlmProviderConfig } from './providers/provider-config';
import { InvalidModelRoutingError } from './routing/errors/invalid-model-routing.error';
import { InvalidPriceTableError } from './usage/errors/invalid-price-table.error';

const OPENAI: LlmProviderConfig = { name: 'openai', kind: 'openai-compatible', apiKey: 'sk-test' };
const REDIS = { status: 'ready' } as unknown as Redis;

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error('expected the options to be rejected');
}

describe('resolveGatewayOptions', () => {
  it('defaults to the dev provider with its default and fast aliases', () => {
    expect(resolveGatewayOptions({})).toEqual({
      providers: [{ name: 'dev', kind: 'dev' }],
      aliases: {
        default: [{ provider: 'dev', model: 'dev-echo' }],
        fast: [{ provider: 'dev', model: 'dev-echo' }],
      },
      prices: [],
      cacheEnabled: true,
      cache: {},
      redis: null,
      reserveOutputTokens: 1024,
      storedProviderPolicy: LLM_VENDOR_POLICY,
      storedProvidersRefreshMs: 30_000,
    });
  });

  it('has no aliases when providers are given', () => {
    const resolved = resolveGatewayOptions({ providers: [OPENAI] });
    expect(resolved.providers).toEqual([OPENAI]);
    expect(resolved.aliases).toEqual({});
    expect(resolveGatewayOptions({ providers: [] }).aliases).toEqual({});
  });

  it('keeps aliases given next to providers', () => {
    const aliases = { smart: [{ provider: 'openai', model: 'gpt-4o' }] };
    expect(resolveGatewayOptions({ providers: [OPENAI], aliases }).aliases).toEqual(aliases);
  });

  it('checks aliases against the dev provider when providers are not given', () => {
    const aliases = { mine: [{ provider: 'dev', model: 'dev-echo' }] };
    expect(resolveGatewayOptions({ aliases }).aliases).toEqual(aliases);
    const error = errorOf(() =>
      resolveGatewayOptions({ aliases: { smart: [{ provider: 'openai', model: 'gpt-4o' }] } }),
    );
    expect(error).toBeInstanceOf(InvalidModelRoutingError);
    expect((error as InvalidModelRoutingError).problems).toEqual([
      'alias "smart"[0].provider "openai" is not a configured provider',
    ]);
  });

  it('refuses an alias naming an unknown provider', () => {
    const error = errorOf(() =>
      resolveGatewayOptions({
        providers: [OPENAI],
        aliases: { smart: [{ provider: 'anthropic', model: 'claude' }] },
      }),
    );
    expect(error).toBeInstanceOf(InvalidModelRoutingError);
    expect((error as InvalidModelRoutingError).problems).toEqual([
      'alias "smart"[0].provider "anthropic" is not a configured provider',
    ]);
  });

  it('refuses bad providers and bad prices with their own errors', () => {
    expect(
      errorOf(() => resolveGatewayOptions({ providers: [{ ...DEV_PROVIDER_CONFIG, name: '' }] })),
    ).toBeInstanceOf(InvalidProviderConfigError);
    const prices = errorOf(() =>
      resolveGatewayOptions({
        prices: [{ model: 'gpt-4o', inputPerMillion: -1, outputPerMillion: 10, currency: 'USD' }],
      }),
    );
    expect(prices).toBeInstanceOf(InvalidPriceTableError);
    expect((prices as InvalidPriceTableError).problems).toEqual([
      '"gpt-4o": inputPerMillion must not be negative',
    ]);
  });

  it('turns the cache off with cache: false', () => {
    const resolved = resolveGatewayOptions({ cache: false });
    expect(resolved.cacheEnabled).toBe(false);
    expect(resolved.cache).toEqual({});
  });

  it('keeps cache options and the redis client', () => {
    const resolved = resolveGatewayOptions({
      cache: { store: 'redis', ttlMs: 1_000 },
      redis: REDIS,
    });
    expect(resolved.cacheEnabled).toBe(true);
    expect(resolved.cache).toEqual({ store: 'redis', ttlMs: 1_000 });
    expect(resolved.redis).toBe(REDIS);
  });

  it('refuses a redis cache store without the redis client', () => {
    for (const redis of [undefined, null]) {
      expect(
        errorOf(() => resolveGatewayOptions({ cache: { store: 'redis' }, redis })).message,
      ).toBe("Invalid GatewayModule options: cache.store 'redis' needs the redis client");
    }
  });

  it('refuses bad cache options', () => {
    expect(errorOf(() => resolveGatewayOptions({ cache: { ttlMs: 0 } })).message).toBe(
      'Invalid response cache options: ttlMs must be a positive integer',
    );
  });

  it('names every problem at once', () => {
    expect(
      errorOf(() =>
        resolveGatewayOptions({
          cache: { store: 'redis' },
          reserveOutputTokens: 0,
          storedProvidersRefreshMs: -1,
        }),
      ).message,
    ).toBe(
      "Invalid GatewayModule options: cache.store 'redis' needs the redis client; " +
        'reserveOutputTokens must be a positive integer; ' +
        'storedProvidersRefreshMs must be a non-negative integer',
    );
  });

  it.each([1.5, Number.NaN])('refuses reserveOutputTokens %s', (reserveOutputTokens) => {
    expect(errorOf(() => resolveGatewayOptions({ reserveOutputTokens })).message).toBe(
      'Invalid GatewayModule options: reserveOutputTokens must be a positive integer',
    );
  });

  it('keeps the given numbers and policy', () => {
    const policy = { timeout: { perAttemptMs: 5_000 } };
    const resolved = resolveGatewayOptions({
      reserveOutputTokens: 1,
      storedProvidersRefreshMs: 0,
      storedProviderPolicy: policy,
    });
    expect(resolved).toMatchObject({ reserveOutputTokens: 1, storedProvidersRefreshMs: 0 });
    expect(resolved.storedProviderPolicy).toBe(policy);
  });
});
