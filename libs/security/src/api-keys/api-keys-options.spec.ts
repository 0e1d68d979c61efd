import { DEFAULT_API_KEYS_OPTIONS, resolveApiKeysOptions } from './api-keys-options';
import { InvalidApiKeysOptionsError } from './errors/invalid-api-keys-options.error';

describe('resolveApiKeysOptions', () => {
  it('fills the documented defaults', () => {
    expect(resolveApiKeysOptions()).toEqual({
      cacheTtlMs: 30_000,
      cacheMaxEntries: 10_000,
      lastUsedWriteIntervalMs: 60_000,
      maxKeysPerUser: 100,
    });
    expect(resolveApiKeysOptions({})).toEqual(DEFAULT_API_KEYS_OPTIONS);
  });

  it('keeps given values, undefined meaning the default', () => {
    expect(
      resolveApiKeysOptions({ cacheTtlMs: 0, cacheMaxEntries: undefined, maxKeysPerUser: 5 }),
    ).toEqual({
      cacheTtlMs: 0,
      cacheMaxEntries: 10_000,
      lastUsedWriteIntervalMs: 60_000,
      maxKeysPerUser: 5,
    });
  });

  it('names every problem in one error', () => {
    let error: unknown;
    try {
      resolveApiKeysOptions({
        cacheTtlMs: -1,
        cacheMaxEntries: 0,
        lastUsedWriteIntervalMs: 1.5,
        maxKeysPerUser: Number.NaN,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidApiKeysOptionsError);
    expect((error as InvalidApiKeysOptionsError).problems).toEqual([
      'cacheTtlMs must be an integer from 0 to 3600000',
      'cacheMaxEntries must be an integer from 1 to 10000000',
      'lastUsedWriteIntervalMs must be an integer from 0 to 86400000',
      'maxKeysPerUser must be an integer from 1 to 100000',
    ]);
  });

  it('bounds the cache TTL, which bounds how long a revoked key works elsewhere', () => {
    expect(() => resolveApiKeysOptions({ cacheTtlMs: 3_600_001 })).toThrow(/cacheTtlMs/);
    expect(() => resolveApiKeysOptions({ cacheTtlMs: '30000' as unknown as number })).toThrow(
      InvalidApiKeysOptionsError,
    );
  });
});
