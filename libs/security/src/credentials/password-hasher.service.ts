import { randomBytes } from 'node:crypto';

import type { OnModuleInit } from '@nestjs/common';
import { Inject, Injectable, Optional } from '@nestjs/common';
import * as argon2 from 'argon2';

import { PASSWORD_HASHER_OPTIONS } from './credentials.constants';
import { WeakPasswordError } from './weak-password.error';

/**
 * Argon2id costs. The defaults are OWASP's minimum recommendation for argon2id
 * (Password Storage Cheat Sheet): 19 MiB, 2 iterations, 1 lane.
 */
export interface PasswordHasherOptions {
  /** Memory per hash in KiB. @default 19456 */
  memoryCost?: number;
  /** Passes over the memory. @default 2 */
  timeCost?: number;
  /** Lanes. @default 1 */
  parallelism?: number;
  /** Shortest accepted password, in characters (code points). @default 12 */
  minLength?: number;
  /** Longest accepted password, in characters; bounds the work an attacker can ask for. @default 1024 */
  maxLength?: number;
}

export const PASSWORD_HASHER_DEFAULTS: Readonly<Required<PasswordHasherOptions>> = Object.freeze({
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
  minLength: 12,
  maxLength: 1024,
});

/**
 * Upper bounds for the costs read from a stored hash: a corrupted or planted hash asking for
 * gigabytes of memory must fail verification, not take the process down.
 */
const MAX_STORED_MEMORY_COST = 1_048_576;
const MAX_STORED_TIME_COST = 64;
const MAX_STORED_PARALLELISM = 64;
const ARGON2_VERSION = 0x13;

/**
 * `$argon2id$v=19$m=19456,p=1,t=2$<salt>$<hash>`, salt and hash in unpadded base64. The
 * parameter order differs between argon2 implementations, so any order is read.
 */
const PHC_PATTERN =
  /^\$(argon2id|argon2i|argon2d)\$v=(\d{1,3})\$([a-z]=\d{1,10}(?:,[a-z]=\d{1,10}){2})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{16,})$/;

interface StoredHashParameters {
  type: string;
  version: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

function parseStoredHash(hash: unknown): StoredHashParameters | undefined {
  if (typeof hash !== 'string' || hash.length > 512) return undefined;
  const match = PHC_PATTERN.exec(hash);
  if (match === null) return undefined;
  const costs = new Map(
    match[3].split(',').map((pair) => [pair[0], Number(pair.slice(2))] as const),
  );
  const parameters = {
    type: match[1],
    version: Number(match[2]),
    memoryCost: costs.get('m') ?? Number.NaN,
    timeCost: costs.get('t') ?? Number.NaN,
    parallelism: costs.get('p') ?? Number.NaN,
  };
  const saneCosts =
    parameters.memoryCost >= 8 * parameters.parallelism &&
    parameters.memoryCost <= MAX_STORED_MEMORY_COST &&
    parameters.timeCost >= 1 &&
    parameters.timeCost <= MAX_STORED_TIME_COST &&
    parameters.parallelism >= 1 &&
    parameters.parallelism <= MAX_STORED_PARALLELISM;
  return saneCosts ? parameters : undefined;
}

function resolveOptions(
  options: PasswordHasherOptions | undefined,
): Required<PasswordHasherOptions> {
  const resolved = { ...PASSWORD_HASHER_DEFAULTS };
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value !== undefined) resolved[key as keyof PasswordHasherOptions] = value as number;
  }
  const problems: string[] = [];
  const isInteger = (value: number, min: number, max: number) =>
    Number.isInteger(value) && value >= min && value <= max;
  if (!isInteger(resolved.parallelism, 1, MAX_STORED_PARALLELISM)) {
    problems.push(`parallelism must be an integer 1-${MAX_STORED_PARALLELISM}`);
  }
  if (!isInteger(resolved.memoryCost, 8 * resolved.parallelism, MAX_STORED_MEMORY_COST)) {
    problems.push(`memoryCost must be an integer 8*parallelism-${MAX_STORED_MEMORY_COST} KiB`);
  }
  if (!isInteger(resolved.timeCost, 1, MAX_STORED_TIME_COST)) {
    problems.push(`timeCost must be an integer 1-${MAX_STORED_TIME_COST}`);
  }
  if (!isInteger(resolved.minLength, 1, 1024) || !isInteger(resolved.maxLength, 1, 4096)) {
    problems.push('minLength must be an integer 1-1024 and maxLength an integer 1-4096');
  } else if (resolved.minLength > resolved.maxLength) {
    problems.push('minLength must not exceed maxLength');
  }
  if (problems.length > 0) {
    throw new Error(`Invalid PasswordHasher options: ${problems.join('; ')}`);
  }
  return resolved;
}

/**
 * Hashes and verifies passwords with argon2id. Hashes are self-describing PHC strings, so
 * raising the costs later is safe: old hashes still verify, and {@link needsRehash} says when
 * to replace one after a successful login.
 */
@Injectable()
export class PasswordHasher implements OnModuleInit {
  private readonly options: Required<PasswordHasherOptions>;
  private dummyHash: Promise<string> | undefined;

  constructor(@Optional() @Inject(PASSWORD_HASHER_OPTIONS) options?: PasswordHasherOptions) {
    this.options = resolveOptions(options);
  }

  /** Computes the dummy hash at startup, so the first unknown-email login is not slower. */
  async onModuleInit(): Promise<void> {
    await this.getDummyHash();
  }

  /** @throws {WeakPasswordError} when the password is not 12-1024 characters (by default). */
  async hash(password: string): Promise<string> {
    this.assertAcceptable(password);
    return argon2.hash(password, {
      type: argon2.argon2id,
      memoryCost: this.options.memoryCost,
      timeCost: this.options.timeCost,
      parallelism: this.options.parallelism,
    });
  }

  /**
   * Whether the password matches the stored hash. Returns false, never throws, for a malformed
   * or implausible hash and for a password no policy could have accepted (not a string, or
   * longer than `maxLength`). Passwords shorter than `minLength` are still checked: they may
   * predate the policy.
   */
  async verify(hash: string, password: string): Promise<boolean> {
    if (typeof password !== 'string' || this.lengthOf(password) > this.options.maxLength) {
      return false;
    }
    if (parseStoredHash(hash) === undefined) return false;
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }

  /**
   * Whether the hash was made with weaker settings than the current ones (another algorithm,
   * an older version, or lower memory, time or parallelism). A malformed hash needs one too.
   */
  needsRehash(hash: string): boolean {
    const stored = parseStoredHash(hash);
    if (stored === undefined) return true;
    return (
      stored.type !== 'argon2id' ||
      stored.version < ARGON2_VERSION ||
      stored.memoryCost < this.options.memoryCost ||
      stored.timeCost < this.options.timeCost ||
      stored.parallelism < this.options.parallelism
    );
  }

  /**
   * Spends the time of one {@link verify} and returns false. Call it when no user has the given
   * email, so response time does not tell which emails have accounts.
   */
  async dummyVerify(): Promise<false> {
    const hash = await this.getDummyHash();
    await argon2.verify(hash, randomBytes(16).toString('base64url'));
    return false;
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= argon2
      .hash(randomBytes(32).toString('base64url'), {
        type: argon2.argon2id,
        memoryCost: this.options.memoryCost,
        timeCost: this.options.timeCost,
        parallelism: this.options.parallelism,
      })
      .catch((error: unknown) => {
        this.dummyHash = undefined;
        throw error;
      });
    return this.dummyHash;
  }

  private assertAcceptable(password: unknown): asserts password is string {
    const { minLength, maxLength } = this.options;
    if (typeof password !== 'string') {
      throw new WeakPasswordError('not_a_string', minLength, maxLength);
    }
    const length = this.lengthOf(password);
    if (length < minLength) throw new WeakPasswordError('too_short', minLength, maxLength);
    if (length > maxLength) throw new WeakPasswordError('too_long', minLength, maxLength);
  }

  /** Code points, so an emoji counts once; cheap enough even for an oversized input. */
  private lengthOf(password: string): number {
    // A string with more UTF-16 units than 2*maxLength is too long however it is counted.
    if (password.length > 2 * this.options.maxLength) return password.length;
    return [...password].length;
  }
}
