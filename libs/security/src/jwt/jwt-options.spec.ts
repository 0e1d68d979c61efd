import { InvalidJwtOptionsError } from './invalid-jwt-options.error';
import { resolveJwtOptions } from './jwt-options';
import type { JwtKeySource, JwtVerificationOptions } from './jwt-options';
import { generateTestKeyPair } from './testing/jwt-test-keys';

const SECRET = 's'.repeat(32);
const base = { issuer: 'https://auth.keel.test', audience: 'keel-api' };
const rsa = generateTestKeyPair('rs256');
const ec = generateTestKeyPair('es256');

function problemsOf(options: JwtVerificationOptions): readonly string[] {
  try {
    resolveJwtOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidJwtOptionsError);
    return (error as InvalidJwtOptionsError).problems;
  }
  throw new Error('expected resolveJwtOptions to throw');
}

describe('resolveJwtOptions', () => {
  it('fills defaults for an hs256 source', () => {
    expect(resolveJwtOptions({ ...base, key: { kind: 'hs256', secret: SECRET } })).toEqual({
      ...base,
      clockToleranceSec: 30,
      accessTokenTtlSec: 900,
      verificationCacheSize: 10_000,
      key: { kind: 'hs256', secret: SECRET },
      claims: { tenant: 'tenant_id', roles: 'roles' },
    });
  });

  it('fills jwks defaults and uses its claim names', () => {
    const resolved = resolveJwtOptions({
      ...base,
      key: { kind: 'jwks', url: 'https://idp.example/.well-known/jwks.json', rolesClaim: 'scope' },
    });
    expect(resolved.key).toEqual({
      kind: 'jwks',
      url: 'https://idp.example/.well-known/jwks.json',
      algorithms: ['RS256'],
      cacheMaxAgeMs: 600_000,
      cooldownMs: 30_000,
      timeoutMs: 5_000,
      tenantClaim: 'tenant_id',
      rolesClaim: 'scope',
    });
    expect(resolved.claims).toEqual({ tenant: 'tenant_id', roles: 'scope' });
  });

  it.each([
    ['rs256', rsa],
    ['es256', ec],
  ] as const)('accepts a matching %s key pair, with or without the private key', (kind, pair) => {
    const key: JwtKeySource = {
      kind,
      publicKeyPem: pair.publicKeyPem,
      privateKeyPem: pair.privateKeyPem,
      kid: 'k1',
    };
    expect(resolveJwtOptions({ ...base, key }).key).toEqual(key);
    expect(
      resolveJwtOptions({ ...base, key: { kind, publicKeyPem: pair.publicKeyPem } }).key,
    ).toEqual({ kind, publicKeyPem: pair.publicKeyPem });
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({
      issuer: '',
      audience: ' ',
      clockToleranceSec: -1,
      accessTokenTtlSec: 1.5,
      key: { kind: 'hs256', secret: 'too-short' },
    });
    expect(problems).toEqual([
      'issuer must be a non-empty string',
      'audience must be a non-empty string',
      'clockToleranceSec must be a number of seconds, 0 or more',
      'accessTokenTtlSec must be a positive integer',
      'key.secret must be at least 32 characters',
    ]);
  });

  it('never puts the secret in the message', () => {
    const secret = 'short-but-secret';
    let message = '';
    try {
      resolveJwtOptions({ ...base, key: { kind: 'hs256', secret } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('key.secret must be at least 32 characters');
    expect(message).not.toContain(secret);
  });

  it('rejects a missing or unknown key source', () => {
    expect(problemsOf({ ...base } as JwtVerificationOptions)).toEqual([
      "key must be one of { kind: 'hs256' | 'rs256' | 'es256' | 'jwks', ... }",
    ]);
    expect(problemsOf({ ...base, key: { kind: 'none' } as unknown as JwtKeySource })).toEqual([
      `key.kind must be 'hs256', 'rs256', 'es256' or 'jwks', got "none"`,
    ]);
  });

  it('rejects unreadable, misplaced, mistyped and mismatched PEMs', () => {
    expect(
      problemsOf({ ...base, key: { kind: 'rs256', publicKeyPem: 'not a pem', kid: '' } }),
    ).toEqual([
      'key.kid must be a non-empty string when set',
      'key.publicKeyPem must be a SPKI PEM (-----BEGIN PUBLIC KEY-----)',
    ]);
    // A private key where the public one belongs is a leak waiting to happen.
    expect(
      problemsOf({ ...base, key: { kind: 'rs256', publicKeyPem: rsa.privateKeyPem } }),
    ).toEqual(['key.publicKeyPem must be a SPKI PEM (-----BEGIN PUBLIC KEY-----)']);
    expect(
      problemsOf({
        ...base,
        key: {
          kind: 'rs256',
          publicKeyPem: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
        },
      }),
    ).toEqual(['key.publicKeyPem is not a readable SPKI PEM']);
    expect(
      problemsOf({
        ...base,
        key: { kind: 'rs256', publicKeyPem: ec.publicKeyPem, privateKeyPem: ec.privateKeyPem },
      }),
    ).toEqual([
      'key.publicKeyPem must be an RSA key of 2048 bits or more for rs256',
      'key.privateKeyPem must be an RSA key of 2048 bits or more for rs256',
    ]);
    expect(problemsOf({ ...base, key: { kind: 'es256', publicKeyPem: rsa.publicKeyPem } })).toEqual(
      ['key.publicKeyPem must be an EC P-256 key for es256'],
    );
    const other = generateTestKeyPair('es256');
    expect(
      problemsOf({
        ...base,
        key: { kind: 'es256', publicKeyPem: ec.publicKeyPem, privateKeyPem: other.privateKeyPem },
      }),
    ).toEqual(['key.privateKeyPem does not match key.publicKeyPem']);
  });

  it('rejects unsafe or out-of-range jwks settings', () => {
    expect(
      problemsOf({
        ...base,
        key: {
          kind: 'jwks',
          url: 'http://idp.example/jwks.json',
          algorithms: ['HS256' as 'RS256'],
          cacheMaxAgeMs: 0,
          cooldownMs: -1,
          timeoutMs: 2 ** 31,
          tenantClaim: '',
        },
      }),
    ).toEqual([
      'key.url must use https: (http: is allowed on loopback hosts only)',
      'key.algorithms must be a non-empty list of RS256, ES256',
      `key.cacheMaxAgeMs must be an integer number of ms from 1 to ${Number.MAX_SAFE_INTEGER}`,
      `key.cooldownMs must be an integer number of ms from 0 to ${Number.MAX_SAFE_INTEGER}`,
      'key.timeoutMs must be an integer number of ms from 1 to 2147483647',
      'key.tenantClaim must be a non-empty string',
    ]);
    expect(
      problemsOf({ ...base, key: { kind: 'jwks', url: 'not a url', algorithms: [] } }),
    ).toEqual([
      'key.url must be an absolute URL',
      'key.algorithms must be a non-empty list of RS256, ES256',
    ]);
    expect(
      resolveJwtOptions({ ...base, key: { kind: 'jwks', url: 'http://127.0.0.1:8080/jwks' } }).key,
    ).toMatchObject({ url: 'http://127.0.0.1:8080/jwks' });
  });
});
