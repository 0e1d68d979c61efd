import type { EncryptionService } from './encryption.service';

export interface ReencryptAllHandlers<T> {
  /** The row's stored ciphertext. */
  get(row: T): string;
  /** The associated data the row's ciphertext was written with, e.g. its id. */
  aad?(row: T): string;
  /** Persists the new ciphertext; a rejection counts the row as failed. */
  save(row: T, newCiphertext: string): Promise<void>;
  /** Called for each failed row, e.g. to log its id; the error never holds secret material. */
  onError?(row: T, error: unknown): void;
}

export interface ReencryptAllResult {
  /** Rows read. */
  scanned: number;
  /** Rows written with the active key and saved. */
  reencrypted: number;
  /** Rows that could not be decrypted or saved; the others still run. */
  failed: number;
}

/**
 * Re-encrypts, one row at a time, every row not yet written with the active key; rows already
 * current are only counted. The building block of a `secrets:reencrypt` command.
 */
export async function reencryptAll<T>(
  rows: AsyncIterable<T> | Iterable<T>,
  handlers: ReencryptAllHandlers<T>,
  service: Pick<EncryptionService, 'needsReencryption' | 'reencrypt'>,
): Promise<ReencryptAllResult> {
  const result: ReencryptAllResult = { scanned: 0, reencrypted: 0, failed: 0 };
  for await (const row of rows) {
    result.scanned += 1;
    try {
      const token = handlers.get(row);
      if (!service.needsReencryption(token)) continue;
      await handlers.save(row, service.reencrypt(token, handlers.aad?.(row)));
      result.reencrypted += 1;
    } catch (error) {
      result.failed += 1;
      handlers.onError?.(row, error);
    }
  }
  return result;
}
