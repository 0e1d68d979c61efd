import { Test } from '@nestjs/testing';

import { PASSWORD_HASHER_OPTIONS } from './credentials.constants';
import { PASSWORD_HASHER_DEFAULTS, PasswordHasher } from './password-hasher.service';
import { WeakPasswordError } from './weak-password.error';

const PASSWORD = 'correct horse battery staple';

/** Cheapest valid costs, for tests that only need a second set of parameters. */
const CHEAP = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher();
  let stored: string;

  beforeAll(async () => {
    stored = await hasher.hash(PASSWORD);
  });

  it('writes argon2id with the OWASP defaults', () => {
    expect(PASSWORD_HASHER_DEFAULTS).toMatchObject({
      memoryCost: 19_456,
      timeCost: 2,
      parallelism: 1,
    });
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });

  it('verifies the password it hashed and rejects another', async () => {
    await expect(hasher.verify(stored, PASSWORD)).resolves.toBe(true);
    await expect(hasher.verify(stored, `${PASSWORD}!`)).resolves.toBe(false);
  });

  it.each([
    ['empty', ''],
    ['not PHC', 'not-a-hash'],
    ['bcrypt', '$2b$12$abcdefghijklmnopqrstuuJ3Cq4x6m1jC2rZ8bQm7t9cZs0eE1gG.'],
    [
      'huge memory cost',
      '$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA',
    ],
    ['bad base64', '$argon2id$v=19$m=19456,t=2,p=1$!!!!!!!!!!!!!!$@@@@@@@@@@@@@@@@@@@@@@'],
  ])('returns false, without throwing, for a malformed hash (%s)', async (_name, hash) => {
    await expect(hasher.verify(hash, PASSWORD)).resolves.toBe(false);
    expect(hasher.needsRehash(hash)).toBe(true);
  });

  it('returns false for a truncated real hash and for non-string input', async () => {
    await expect(hasher.verify(stored.slice(0, -10), PASSWORD)).resolves.toBe(false);
    await expect(hasher.verify(undefined as unknown as string, PASSWORD)).resolves.toBe(false);
    await expect(hasher.verify(stored, undefined as unknown as string)).resolves.toBe(false);
    await expect(hasher.verify(stored, 'x'.repeat(1025))).resolves.toBe(false);
  });

  it('asks for a rehash when the current parameters are stronger than the stored ones', async () => {
    const weak = await new PasswordHasher(CHEAP).hash(PASSWORD);
    expect(hasher.needsRehash(stored)).toBe(false);
    expect(hasher.needsRehash(weak)).toBe(true);
    expect(new PasswordHasher(CHEAP).needsRehash(stored)).toBe(false);
    expect(new PasswordHasher({ memoryCost: 32_768 }).needsRehash(stored)).toBe(true);
    expect(new PasswordHasher({ timeCost: 3 }).needsRehash(stored)).toBe(true);
    expect(new PasswordHasher({ parallelism: 2 }).needsRehash(stored)).toBe(true);
    expect(hasher.needsRehash(stored.replace('$argon2id$', '$argon2i$'))).toBe(true);
    // Parameter order is not fixed across implementations.
    expect(hasher.needsRehash(stored.replace('m=19456,p=1,t=2', 't=2,m=19456,p=1'))).toBe(false);
    expect(hasher.needsRehash(stored.replace('m=19456,p=1,t=2', 'm=19456,m=1,t=2'))).toBe(true);
    // An old hash still verifies, so it can be replaced after a successful login.
    await expect(hasher.verify(weak, PASSWORD)).resolves.toBe(true);
  });

  it.each([
    ['too_short', 'short-pw-11'],
    ['too_long', 'p'.repeat(1025)],
  ])('refuses a %s password without echoing it', async (reason, password) => {
    const error: unknown = await hasher.hash(password).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeakPasswordError);
    expect(error).toMatchObject({ reason, minLength: 12, maxLength: 1024 });
    expect((error as Error).message).not.toContain(password.slice(0, 11));
    expect(JSON.stringify(error)).not.toContain(password.slice(0, 11));
  });

  it('counts characters as code points and accepts the bounds', async () => {
    const cheap = new PasswordHasher(CHEAP);
    await expect(cheap.hash('🔑'.repeat(11))).rejects.toBeInstanceOf(WeakPasswordError);
    await expect(cheap.hash('🔑'.repeat(12))).resolves.toMatch(/^\$argon2id\$/);
    await expect(cheap.hash('p'.repeat(1024))).resolves.toMatch(/^\$argon2id\$/);
  });

  it('refuses invalid options', () => {
    expect(() => new PasswordHasher({ memoryCost: 4 })).toThrow(/memoryCost/);
    expect(() => new PasswordHasher({ timeCost: 0 })).toThrow(/timeCost/);
    expect(() => new PasswordHasher({ parallelism: 1.5 })).toThrow(/parallelism/);
    expect(() => new PasswordHasher({ minLength: 20, maxLength: 10 })).toThrow(/minLength/);
  });

  it('spends about as long on dummyVerify as on a real verify', async () => {
    await hasher.dummyVerify(); // builds the dummy hash once
    const time = async (run: () => Promise<unknown>) => {
      const start = process.hrtime.bigint();
      await run();
      return Number(process.hrtime.bigint() - start);
    };
    const real: number[] = [];
    const dummy: number[] = [];
    for (let i = 0; i < 3; i++) {
      real.push(await time(() => hasher.verify(stored, PASSWORD)));
      dummy.push(await time(() => hasher.dummyVerify()));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[1];
    const ratio = median(dummy) / median(real);
    expect(ratio).toBeGreaterThan(1 / 3);
    expect(ratio).toBeLessThan(3);
    await expect(hasher.dummyVerify()).resolves.toBe(false);
  });

  it('is injectable with and without options', async () => {
    const plain = await Test.createTestingModule({ providers: [PasswordHasher] }).compile();
    expect(plain.get(PasswordHasher).needsRehash(stored)).toBe(false);
    await plain.close();

    const configured = await Test.createTestingModule({
      providers: [PasswordHasher, { provide: PASSWORD_HASHER_OPTIONS, useValue: CHEAP }],
    }).compile();
    await configured.init(); // onModuleInit computes the dummy hash
    await expect(configured.get(PasswordHasher).hash(PASSWORD)).resolves.toMatch(/m=1024,p=1,t=1/);
    await configured.close();
  });
});
