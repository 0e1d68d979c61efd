import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

import { CompactSign, SignJWT } from 'jose';
import type { JWTHeaderParameters } from 'jose';

import { InvalidTokenError } from './invalid-token.error';
import type { InvalidTokenReason } from './invalid-token.error';
import { resolveJwtOptions } from './jwt-options';
import type { JwtKeySource } from './jwt-options';
import { JwtService } from './jwt.service';
import { FakeJwtClock } from './testing/fake-jwt-clock';
import { encodeSegment, generateTestKeyPair } from './testing/jwt-test-keys';

const ISSUER = 'https://auth.keel.test';
const AUDIENCE = 'keel-api';
const SECRET = 'a-test-secret-of-at-least-32-characters';
const rsa = generateTestKeyPair('rs256');
const ec = generateTestKeyPair('es256');
const attackerRsa = generateTestKeyPair('rs256');
const attackerEc = generateTestKeyPair('es256');

/** Rejects with an InvalidTokenError whose message leaks no part of the token. */
async function expectRefused(
  service: JwtService,
  token: string,
  reason: InvalidTokenReason,
): Promise<InvalidTokenError> {
  const error: unknown = await service.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidTokenError);
  const refused = error as InvalidTokenError;
  expect(refused.reason).toBe(reason);
  const parts = typeof token === 'string' ? token.split('.') : [];
  for (const part of parts.filter((segment) => segment.length >= 8))
    expect(`${refused.message} ${refused.stack}`).not.toContain(part);
  return refused;
}

interface Verifier {
  key: JwtKeySource;
  alg: string;
  kid?: string;
  signingKey: KeyObject;
  attackerKey: KeyObject;
}

const verifiers: [string, Verifier][] = [
  [
    'hs256',
    {
      key: { kind: 'hs256', secret: SECRET },
      alg: 'HS256',
      signingKey: createSecretKey(Buffer.from(SECRET)),
      attackerKey: createSecretKey(Buffer.from('another-secret-of-at-least-32-characters')),
    },
  ],
  [
    'rs256',
    {
      key: { kind: 'rs256', publicKeyPem: rsa.publicKeyPem, kid: 'rsa-1' },
      alg: 'RS256',
      kid: 'rsa-1',
      signingKey: rsa.privateKey,
      attackerKey: attackerRsa.privateKey,
    },
  ],
  [
    'es256',
    {
      key: { kind: 'es256', publicKeyPem: ec.publicKeyPem, kid: 'ec-1' },
      alg: 'ES256',
      kid: 'ec-1',
      signingKey: ec.privateKey,
      attackerKey: attackerEc.privateKey,
    },
  ],
];

describe.each(verifiers)('attacks on an %s verifier', (_name, verifier) => {
  const clock = new FakeJwtClock();
  const service = new JwtService(
    resolveJwtOptions({ issuer: ISSUER, audience: AUDIENCE, key: verifier.key }),
    clock,
  );
  const validPayload = () => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    tenant_id: 'tenant-1',
    roles: ['admin'],
    iat: clock.nowSec(),
    exp: clock.nowSec() + 300,
  });
  const sign = (
    payload: Record<string, unknown> = validPayload(),
    header: Partial<JWTHeaderParameters> = {},
    key: KeyObject | Uint8Array = verifier.signingKey,
  ) =>
    new SignJWT(payload)
      .setProtectedHeader({
        alg: verifier.alg,
        ...(verifier.kid === undefined ? {} : { kid: verifier.kid }),
        ...header,
      })
      .sign(key);

  it('accepts the genuine token the attacks start from', async () => {
    await expect(service.verify(await sign())).resolves.toMatchObject({ subject: 'user-1' });
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])(
    'refuses alg "%s" with an empty signature',
    async (alg) => {
      const header = { alg, typ: 'JWT', ...(verifier.kid && { kid: verifier.kid }) };
      const token = `${encodeSegment(header)}.${encodeSegment(validPayload())}.`;
      await expectRefused(service, token, 'bad_algorithm');
    },
  );

  it('refuses alg "none" carrying the genuine signature', async () => {
    const [, payload, signature] = (await sign()).split('.');
    const token = `${encodeSegment({ alg: 'none' })}.${payload}.${signature}`;
    await expectRefused(service, token, 'bad_algorithm');
  });

  it('refuses a token signed by another key', async () => {
    await expectRefused(
      service,
      await sign(validPayload(), {}, verifier.attackerKey),
      'bad_signature',
    );
  });

  it('refuses a tampered payload that keeps the signature', async () => {
    const [header, payload, signature] = (await sign()).split('.');
    const middle = Math.floor(payload.length / 2);
    const flipped = payload[middle] === 'A' ? 'B' : 'A';
    const tampered = `${payload.slice(0, middle)}${flipped}${payload.slice(middle + 1)}`;
    await expectRefused(service, `${header}.${tampered}.${signature}`, 'bad_signature');
  });

  it('refuses a payload swapped in whole (privilege escalation)', async () => {
    const [header, , signature] = (await sign()).split('.');
    const escalated = encodeSegment({ ...validPayload(), roles: ['owner'] });
    await expectRefused(service, `${header}.${escalated}.${signature}`, 'bad_signature');
  });

  it('refuses a stripped signature', async () => {
    const [header, payload] = (await sign()).split('.');
    await expectRefused(service, `${header}.${payload}.`, 'bad_signature');
  });

  it('refuses an expired token', async () => {
    const refused = await expectRefused(
      service,
      await sign({ ...validPayload(), exp: clock.nowSec() - 31 }),
      'expired',
    );
    expect(refused.claim).toBe('exp');
  });

  it('refuses a token not valid yet beyond the tolerance', async () => {
    await expectRefused(
      service,
      await sign({ ...validPayload(), nbf: clock.nowSec() + 31 }),
      'not_yet_valid',
    );
  });

  it('refuses another issuer and another audience', async () => {
    await expectRefused(
      service,
      await sign({ ...validPayload(), iss: 'https://evil.test' }),
      'bad_issuer',
    );
    await expectRefused(
      service,
      await sign({ ...validPayload(), aud: 'other-api' }),
      'bad_audience',
    );
    await expectRefused(service, await sign({ ...validPayload(), aud: [] }), 'bad_audience');
  });

  it.each(['sub', 'exp', 'iss', 'aud', 'tenant_id'])(
    'refuses a token without %s',
    async (claim) => {
      const payload: Record<string, unknown> = validPayload();
      delete payload[claim];
      const refused = await expectRefused(service, await sign(payload), 'missing_claim');
      expect(refused.claim).toBe(claim);
    },
  );

  it('refuses claims of the wrong type', async () => {
    await expectRefused(service, await sign({ ...validPayload(), exp: 'never' }), 'malformed');
    await expectRefused(service, await sign({ ...validPayload(), nbf: 'now' }), 'malformed');
    await expectRefused(service, await sign({ ...validPayload(), sub: 42 }), 'malformed');
  });

  if (verifier.key.kind === 'hs256') {
    it('refuses RS256 tokens (only HS256 is allowed)', async () => {
      const token = await new SignJWT(validPayload())
        .setProtectedHeader({ alg: 'RS256' })
        .sign(rsa.privateKey);
      await expectRefused(service, token, 'bad_algorithm');
    });
  } else {
    it('refuses an HS256 token keyed with the public key PEM (algorithm confusion)', async () => {
      const publicKeyPem = verifier.key.kind === 'rs256' ? rsa.publicKeyPem : ec.publicKeyPem;
      const confused = await sign(validPayload(), { alg: 'HS256' }, Buffer.from(publicKeyPem));
      await expectRefused(service, confused, 'bad_algorithm');
    });

    it('refuses a forged kid, even with a genuine signature', async () => {
      await expectRefused(service, await sign(validPayload(), { kid: 'other' }), 'unknown_key');
      // Without a kid, the configured one is still required.
      const noKid = await new SignJWT(validPayload())
        .setProtectedHeader({ alg: verifier.alg })
        .sign(verifier.signingKey);
      await expectRefused(service, noKid, 'unknown_key');
    });

    it('refuses the right kid on a token signed by another key', async () => {
      await expectRefused(
        service,
        await sign(validPayload(), {}, verifier.attackerKey),
        'bad_signature',
      );
    });
  }

  it('refuses another algorithm of the same family', async () => {
    const [alg, key] =
      verifier.key.kind === 'hs256'
        ? ['HS512', verifier.signingKey]
        : verifier.key.kind === 'rs256'
          ? ['PS256', rsa.privateKey]
          : ['ES384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey];
    await expectRefused(service, await sign(validPayload(), { alg }, key), 'bad_algorithm');
  });

  it.each([
    ['an empty string', ''],
    ['one segment', 'abc'],
    ['two segments', 'abc.def'],
    ['four segments', 'a.b.c.d'],
    ['empty segments', '..'],
    ['a header that is not JSON', `${Buffer.from('{alg').toString('base64url')}.e30.sig`],
    ['a header that is an array', `${encodeSegment(['HS256'])}.e30.sig`],
    ['a header without alg', `${encodeSegment({ typ: 'JWT' })}.e30.sig`],
    ['invalid base64', '!!!.###.$$$'],
    ['an oversized token', `${'a'.repeat(20_000)}.b.c`],
  ])('refuses %s as malformed', async (_label, token) => {
    await expectRefused(service, token, 'malformed');
  });

  it('refuses a genuinely signed payload that is not a JSON object', async () => {
    const header = { alg: verifier.alg, ...(verifier.kid && { kid: verifier.kid }) };
    const token = await new CompactSign(new TextEncoder().encode('[1,2]'))
      .setProtectedHeader(header)
      .sign(verifier.signingKey);
    await expectRefused(service, token, 'malformed');
  });

  it('refuses a non-string input', async () => {
    await expectRefused(service, 42 as unknown as string, 'malformed');
  });
});
