import { webcrypto } from 'node:crypto';

import { Test } from '@nestjs/testing';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';

import { InvalidTokenError } from './invalid-token.error';
import { JwtClock } from './jwt-clock';
import { resolveJwtOptions } from './jwt-options';
import type { JwtKeySource, ResolvedJwtOptions } from './jwt-options';
import { JWT_OPTIONS } from './jwt.constants';
import { JwtService } from './jwt.service';
import { FakeJwtClock } from './testing/fake-jwt-clock';
import { generateTestKeyPair } from './testing/jwt-test-keys';

const SECRET = 'a-test-secret-of-at-least-32-characters';
const ISSUER = 'https://auth.keel.test';
const AUDIENCE = 'keel-api';
const rsa = generateTestKeyPair('rs256');
const ec = generateTestKeyPair('es256');

function options(key: JwtKeySource, clockToleranceSec = 30): ResolvedJwtOptions {
  return resolveJwtOptions({ issuer: ISSUER, audience: AUDIENCE, clockToleranceSec, key });
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidTokenError);
  return (error as InvalidTokenError).reason;
}

const claims = { sub: 'user-1', tenant: 'tenant-1', roles: ['admin', 'reader'] };

describe('JwtService', () => {
  let clock: FakeJwtClock;

  beforeEach(() => {
    clock = new FakeJwtClock();
  });

  describe.each([
    ['hs256', { kind: 'hs256', secret: SECRET }, 'HS256', undefined],
    [
      'rs256',
      {
        kind: 'rs256',
        publicKeyPem: rsa.publicKeyPem,
        privateKeyPem: rsa.privateKeyPem,
        kid: 'rsa-1',
      },
      'RS256',
      'rsa-1',
    ],
    [
      'es256',
      { kind: 'es256', publicKeyPem: ec.publicKeyPem, privateKeyPem: ec.privateKeyPem },
      'ES256',
      undefined,
    ],
  ] as const)('with an %s key', (_kind, key, alg, kid) => {
    it('signs a token that verifies, with mapped claims', async () => {
      const service = new JwtService(options(key), clock);
      const token = await service.sign({ ...claims, plan: 'pro' }, { jti: 'token-1' });

      expect(decodeProtectedHeader(token)).toEqual({ alg, typ: 'JWT', ...(kid && { kid }) });
      const nowSec = clock.nowSec();
      expect(decodeJwt(token)).toEqual({
        iss: ISSUER,
        aud: AUDIENCE,
        sub: 'user-1',
        tenant_id: 'tenant-1',
        roles: ['admin', 'reader'],
        plan: 'pro',
        iat: nowSec,
        exp: nowSec + 900,
        jti: 'token-1',
      });
      await expect(service.verify(token)).resolves.toEqual({
        subject: 'user-1',
        tenant: 'tenant-1',
        roles: ['admin', 'reader'],
        jti: 'token-1',
        expiresAt: new Date((nowSec + 900) * 1000),
        claims: decodeJwt(token),
      });
    });

    it('verifies with a public-key-only or separate instance', async () => {
      const signer = new JwtService(options(key), clock);
      const verifyOnly =
        key.kind === 'hs256' ? key : { kind: key.kind, publicKeyPem: key.publicKeyPem, kid };
      const verifier = new JwtService(options(verifyOnly), clock);
      const token = await signer.sign(claims, { ttlSec: 60 });
      await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'user-1' });
    });
  });

  it('uses a random jti by default and honours ttlSec', async () => {
    const service = new JwtService(options({ kind: 'hs256', secret: SECRET }), clock);
    const [a, b] = await Promise.all([service.sign(claims), service.sign(claims, { ttlSec: 5 })]);
    expect(decodeJwt(a).jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(decodeJwt(a).jti).not.toEqual(decodeJwt(b).jti);
    expect(decodeJwt(b).exp).toBe(clock.nowSec() + 5);
  });

  it('reads roles given as one space-separated string, and no roles as none', async () => {
    const service = new JwtService(options({ kind: 'hs256', secret: SECRET }), clock);
    const key = new TextEncoder().encode(SECRET);
    const base = { iss: ISSUER, aud: AUDIENCE, sub: 'u', tenant_id: 't', exp: clock.nowSec() + 60 };
    const sign = (payload: Record<string, unknown>) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(key);

    await expect(service.verify(await sign({ ...base, roles: 'a  b' }))).resolves.toMatchObject({
      roles: ['a', 'b'],
    });
    await expect(service.verify(await sign(base))).resolves.toMatchObject({ roles: [] });
    expect(await reasonOf(service.verify(await sign({ ...base, roles: [1] })))).toBe('malformed');
    expect(await reasonOf(service.verify(await sign({ ...base, tenant_id: 7 })))).toBe('malformed');
    expect(await reasonOf(service.verify(await sign({ ...base, jti: 7 })))).toBe('malformed');
    expect(await reasonOf(service.verify(await sign({ ...base, sub: '' })))).toBe('malformed');
    // An audience list that contains ours is accepted.
    await expect(
      service.verify(await sign({ ...base, aud: ['other', AUDIENCE] })),
    ).resolves.toMatchObject({ subject: 'u' });
  });

  describe('clock tolerance edges (30 s)', () => {
    const key = new TextEncoder().encode(SECRET);
    const at = async (payload: Record<string, unknown>) =>
      new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'u', tenant_id: 't', ...payload })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(key);

    it('accepts until exp + tolerance and refuses from then on', async () => {
      const service = new JwtService(options({ kind: 'hs256', secret: SECRET }), clock);
      const exp = clock.nowSec() + 60;
      const token = await at({ exp });

      clock.ms = exp * 1000 - 1;
      await expect(service.verify(token)).resolves.toBeDefined();
      clock.ms = (exp + 30) * 1000 - 1;
      await expect(service.verify(token)).resolves.toBeDefined();
      clock.ms = (exp + 30) * 1000;
      expect(await reasonOf(service.verify(token))).toBe('expired');
    });

    it('accepts from nbf - tolerance and refuses before', async () => {
      const service = new JwtService(options({ kind: 'hs256', secret: SECRET }), clock);
      const nbf = clock.nowSec() + 600;
      const token = await at({ nbf, exp: nbf + 600 });

      clock.ms = (nbf - 30) * 1000 - 1;
      expect(await reasonOf(service.verify(token))).toBe('not_yet_valid');
      clock.ms = (nbf - 30) * 1000;
      await expect(service.verify(token)).resolves.toBeDefined();
    });

    it('applies no slack with a tolerance of 0', async () => {
      const service = new JwtService(options({ kind: 'hs256', secret: SECRET }, 0), clock);
      const exp = clock.nowSec() + 60;
      const token = await at({ exp });
      clock.ms = exp * 1000 - 1;
      await expect(service.verify(token)).resolves.toBeDefined();
      clock.ms = exp * 1000;
      expect(await reasonOf(service.verify(token))).toBe('expired');
    });
  });

  describe('sign refuses', () => {
    const service = () => new JwtService(options({ kind: 'hs256', secret: SECRET }));

    it('registered claims passed as extras', async () => {
      await expect(service().sign({ ...claims, exp: 1, tenant_id: 'x' })).rejects.toThrow(
        'Claims set by JwtService.sign cannot be passed: exp, tenant_id',
      );
    });

    it('bad claims and ttl', async () => {
      await expect(service().sign({ ...claims, sub: '' })).rejects.toThrow(TypeError);
      await expect(service().sign({ ...claims, tenant: '' })).rejects.toThrow(TypeError);
      await expect(
        service().sign({ ...claims, roles: 'admin' as unknown as string[] }),
      ).rejects.toThrow(TypeError);
      await expect(service().sign(claims, { ttlSec: 0 })).rejects.toThrow(RangeError);
    });

    it('without a private key, and with a jwks source', async () => {
      const verifyOnly = new JwtService(options({ kind: 'rs256', publicKeyPem: rsa.publicKeyPem }));
      await expect(verifyOnly.sign(claims)).rejects.toThrow(
        "JwtService.sign needs key.privateKeyPem with a 'rs256' key source",
      );
      const jwks = new JwtService(options({ kind: 'jwks', url: 'https://idp.example/jwks' }));
      await expect(jwks.sign(claims)).rejects.toThrow(/not available with a 'jwks' key source/);
    });
  });

  describe('imports keys once', () => {
    afterEach(() => jest.restoreAllMocks());

    it.each([
      ['hs256', { kind: 'hs256', secret: SECRET }],
      [
        'rs256',
        { kind: 'rs256', publicKeyPem: rsa.publicKeyPem, privateKeyPem: rsa.privateKeyPem },
      ],
    ] as const)('%s: one import for many verifications', async (_kind, key) => {
      const service = new JwtService(options(key), clock);
      const token = await service.sign(claims);
      const importKey = jest.spyOn(webcrypto.subtle, 'importKey');
      await Promise.all(Array.from({ length: 5 }, () => service.verify(token)));
      for (let i = 0; i < 5; i++) await service.verify(token);
      // hs256 shares the signing key; rs256 imports its public key on first verify.
      expect(importKey).toHaveBeenCalledTimes(key.kind === 'hs256' ? 0 : 1);
    });
  });

  describe('verification cache', () => {
    const hs = (verificationCacheSize?: number) =>
      new JwtService(
        resolveJwtOptions({
          issuer: ISSUER,
          audience: AUDIENCE,
          key: { kind: 'hs256', secret: SECRET },
          verificationCacheSize,
        }),
        clock,
      );

    it('answers a token verified before from memory, and re-checks any other text', async () => {
      const service = hs();
      const token = await service.sign(claims);
      const first = await service.verify(token);
      expect(await service.verify(token)).toBe(first);
      const [header, payload, signature] = token.split('.');
      const flipped = signature.startsWith('A')
        ? `B${signature.slice(1)}`
        : `A${signature.slice(1)}`;
      expect(await reasonOf(service.verify(`${header}.${payload}.${flipped}`))).toBe(
        'bad_signature',
      );
    });

    it('forgets the oldest token past its size, and can be turned off', async () => {
      const service = hs(1);
      const a = await service.sign(claims);
      const b = await service.sign(claims);
      const first = await service.verify(a);
      await service.verify(b);
      expect(await service.verify(a)).not.toBe(first);
      const off = hs(0);
      const c = await off.sign(claims);
      expect(await off.verify(c)).not.toBe(await off.verify(c));
    });
  });

  it('is injectable with its options and an overridden clock', async () => {
    const moduleRef = await Test.createTestingModule({
      providers: [
        JwtService,
        { provide: JWT_OPTIONS, useValue: options({ kind: 'hs256', secret: SECRET }) },
        { provide: JwtClock, useValue: clock },
      ],
    }).compile();
    const service = moduleRef.get(JwtService);
    const token = await service.sign(claims);
    expect(decodeJwt(token).iat).toBe(clock.nowSec());

    const withoutClock = await Test.createTestingModule({
      providers: [
        JwtService,
        { provide: JWT_OPTIONS, useValue: options({ kind: 'hs256', secret: SECRET }) },
      ],
    }).compile();
    const systemToken = await withoutClock.get(JwtService).sign(claims);
    expect(Math.abs(decodeJwt(systemToken).iat! - Date.now() / 1000)).toBeLessThan(5);
  });
});
