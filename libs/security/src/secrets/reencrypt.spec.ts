import { randomBytes } from 'node:crypto';

import { resolveKeyRing } from './encryption-options';
import { EncryptionService } from './encryption.service';
import { reencryptAll } from './reencrypt';

interface CredentialRow {
  id: string;
  ciphertext: string;
}

const keys = [
  { id: 'k1', key: randomBytes(32).toString('base64') },
  { id: 'k2', key: randomBytes(32).toString('base64') },
];
const before = new EncryptionService(resolveKeyRing({ keys, activeKeyId: 'k1' }));
const after = new EncryptionService(resolveKeyRing({ keys, activeKeyId: 'k2' }));

function rows(): CredentialRow[] {
  return [
    { id: 'a', ciphertext: before.encrypt('secret-a', 'a') },
    { id: 'b', ciphertext: after.encrypt('secret-b', 'b') },
    // Written for another record: fails authentication under this row's id.
    { id: 'c', ciphertext: before.encrypt('secret-c', 'elsewhere') },
    { id: 'd', ciphertext: before.encrypt('secret-d', 'd') },
  ];
}

async function* asAsync<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

describe('reencryptAll', () => {
  it.each([
    ['an array', (items: CredentialRow[]) => items],
    ['an async iterable', (items: CredentialRow[]) => asAsync(items)],
  ])('re-encrypts stale rows from %s and counts one failing row', async (_case, source) => {
    const table = rows();
    const saved = new Map<string, string>();
    const failures: Array<[string, unknown]> = [];

    const result = await reencryptAll(
      source(table),
      {
        get: (row) => row.ciphertext,
        aad: (row) => row.id,
        save: (row, ciphertext) => {
          saved.set(row.id, ciphertext);
          return Promise.resolve();
        },
        onError: (row, error) => failures.push([row.id, error]),
      },
      after,
    );

    expect(result).toEqual({ scanned: 4, reencrypted: 2, failed: 1 });
    expect([...saved.keys()]).toEqual(['a', 'd']);
    expect(after.needsReencryption(saved.get('a') as string)).toBe(false);
    expect(after.decrypt(saved.get('a') as string, 'a')).toBe('secret-a');
    expect(after.decrypt(saved.get('d') as string, 'd')).toBe('secret-d');
    expect(failures).toEqual([['c', expect.objectContaining({ reason: 'authentication_failed' })]]);
  });

  it('counts a rejected save as failed and carries on', async () => {
    const save = jest
      .fn<Promise<void>, [CredentialRow, string]>()
      .mockRejectedValueOnce(new Error('database down'))
      .mockResolvedValue(undefined);

    const result = await reencryptAll(
      rows(),
      { get: (row) => row.ciphertext, aad: (row) => row.id, save },
      after,
    );

    expect(result).toEqual({ scanned: 4, reencrypted: 1, failed: 2 });
    expect(save).toHaveBeenCalledTimes(2);
  });

  it('counts malformed values as failed', async () => {
    const save = jest.fn<Promise<void>, [string, string]>();

    const result = await reencryptAll(['not-encrypted'], { get: (row) => row, save }, after);

    expect(result).toEqual({ scanned: 1, reencrypted: 0, failed: 1 });
    expect(save).not.toHaveBeenCalled();
  });

  it('re-encrypts without associated data when no aad is given', async () => {
    const saved: string[] = [];

    const result = await reencryptAll(
      [before.encrypt('plain')],
      { get: (token) => token, save: (_token, next) => Promise.resolve(void saved.push(next)) },
      after,
    );

    expect(result).toEqual({ scanned: 1, reencrypted: 1, failed: 0 });
    expect(after.decrypt(saved[0])).toBe('plain');
  });

  it('does nothing for an empty source', async () => {
    const save = jest.fn<Promise<void>, [never, string]>();

    await expect(reencryptAll([], { get: () => '', save }, after)).resolves.toEqual({
      scanned: 0,
      reencrypted: 0,
      failed: 0,
    });
  });
});
