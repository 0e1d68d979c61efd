import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { SignJWT } from 'jose';
import type { JWK } from 'jose';

import { InvalidTokenError } from './invalid-token.error';
import { JwksUnavailableError } from './jwks-unavailable.error';
import { resolveJwtOptions } from './jwt-options';
import type { JwtJwksKeySource } from './jwt-options';
import { JwtService } from './jwt.service';
import { FakeJwtClock } from './testing/fake-jwt-clock';
import { encodeSegment, generateTestKeyPair } from './testing/jwt-test-keys';
import type { TestKeyPair } from './testing/jwt-test-keys';

const ISSUER = 'https://idp.keel.test/';
const AUDIENCE = 'keel-api';

function publicJwk(pair: TestKeyPair, kid: string, alg: 'RS256' | 'ES256'): JWK {
  return { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

/** A JWKS endpoint on loopback that counts its fetches and can rotate keys or fail. */
class JwksServer {
  keys: JWK[] = [];
  status = 200;
  fetches = 0;
  private readonly server: Server = createServer((_request, response) => {
    this.fetches += 1;
    response.writeHead(this.status, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: this.keys }));
  });

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidTokenError);
  return (error as InvalidTokenError).reason;
}

describe('JwtService with a jwks key source', () => {
  const rsaOne = generateTestKeyPair('rs256');
  const rsaTwo = generateTestKeyPair('rs256');
  const ecOne = generateTestKeyPair('es256');
  const jwks = new JwksServer();
  let clock: FakeJwtClock;
  // jose's JWKS cache and cooldown read the wall clock; these tests move it instead of waiting.
  let wallClock: number;

  beforeAll(() => jwks.start());
  afterAll(() => jwks.stop());

  beforeEach(() => {
    clock = new FakeJwtClock();
    wallClock = Date.now();
    jest.spyOn(Date, 'now').mockImplementation(() => wallClock);
    jwks.keys = [publicJwk(rsaOne, 'rsa-1', 'RS256')];
    jwks.status = 200;
    jwks.fetches = 0;
  });

  afterEach(() => jest.restoreAllMocks());

  function service(source: Partial<JwtJwksKeySource> = {}): JwtService {
    return new JwtService(
      resolveJwtOptions({
        issuer: ISSUER,
        audience: AUDIENCE,
        key: { kind: 'jwks', url: jwks.url, ...source },
      }),
      clock,
    );
  }

  function token(
    pair: TestKeyPair,
    kid: string,
    payload: Record<string, unknown> = {},
    alg = 'RS256',
  ): Promise<string> {
    return new SignJWT({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'user-1',
      tenant_id: 'tenant-1',
      roles: ['reader'],
      exp: clock.nowSec() + 300,
      ...payload,
    })
      .setProtectedHeader({ alg, kid })
      .sign(pair.privateKey);
  }

  it('verifies many tokens with one fetch', async () => {
    const verifier = service();
    const tokens = await Promise.all(
      Array.from({ length: 10 }, (_, i) => token(rsaOne, 'rsa-1', { sub: `user-${i}` })),
    );
    // Concurrent first verifications share the one fetch.
    await Promise.all(tokens.slice(0, 5).map((t) => verifier.verify(t)));
    for (const t of tokens.slice(5)) await verifier.verify(t);
    await expect(verifier.verify(tokens[0])).resolves.toEqual(
      expect.objectContaining({ subject: 'user-0', tenant: 'tenant-1', roles: ['reader'] }),
    );
    expect(jwks.fetches).toBe(1);
  });

  it('refetches once for a new kid after the cooldown, and not during it', async () => {
    const verifier = service({ cooldownMs: 30_000 });
    await verifier.verify(await token(rsaOne, 'rsa-1'));
    expect(jwks.fetches).toBe(1);

    // The provider rotates in a new key; tokens naming it arrive at once.
    jwks.keys = [publicJwk(rsaOne, 'rsa-1', 'RS256'), publicJwk(rsaTwo, 'rsa-2', 'RS256')];
    const rotated = await token(rsaTwo, 'rsa-2');
    wallClock += 29_999;
    expect(await reasonOf(verifier.verify(rotated))).toBe('unknown_key');
    expect(jwks.fetches).toBe(1);

    wallClock += 1;
    await Promise.all([verifier.verify(rotated), verifier.verify(rotated)]);
    expect(jwks.fetches).toBe(2);
    await verifier.verify(rotated);
    await verifier.verify(await token(rsaOne, 'rsa-1'));
    expect(jwks.fetches).toBe(2);
  });

  it('does not let forged kids hammer the provider', async () => {
    const verifier = service();
    await verifier.verify(await token(rsaOne, 'rsa-1'));
    for (let i = 0; i < 5; i++)
      expect(await reasonOf(verifier.verify(await token(rsaOne, `forged-${i}`)))).toBe(
        'unknown_key',
      );
    expect(jwks.fetches).toBe(1);

    // After the cooldown one forged kid costs one fetch, then the cooldown holds again.
    wallClock += 30_000;
    expect(await reasonOf(verifier.verify(await token(rsaOne, 'forged-a')))).toBe('unknown_key');
    expect(await reasonOf(verifier.verify(await token(rsaOne, 'forged-b')))).toBe('unknown_key');
    expect(jwks.fetches).toBe(2);
  });

  it('refetches when the cache is older than cacheMaxAgeMs', async () => {
    const verifier = service({ cacheMaxAgeMs: 60_000 });
    // Distinct tokens: a token verified once is answered from the verification cache.
    await verifier.verify(await token(rsaOne, 'rsa-1', { jti: 't0' }));
    wallClock += 59_999;
    await verifier.verify(await token(rsaOne, 'rsa-1', { jti: 't1' }));
    expect(jwks.fetches).toBe(1);
    wallClock += 1;
    await verifier.verify(await token(rsaOne, 'rsa-1', { jti: 't2' }));
    expect(jwks.fetches).toBe(2);
  });

  it('refuses a key signed by a stranger under a known kid', async () => {
    expect(await reasonOf(service().verify(await token(rsaTwo, 'rsa-1')))).toBe('bad_signature');
  });

  it('pins the algorithms: ES256 is refused unless configured', async () => {
    jwks.keys = [publicJwk(rsaOne, 'rsa-1', 'RS256'), publicJwk(ecOne, 'ec-1', 'ES256')];
    const esToken = await token(ecOne, 'ec-1', {}, 'ES256');
    expect(await reasonOf(service().verify(esToken))).toBe('bad_algorithm');
    await expect(
      service({ algorithms: ['RS256', 'ES256'] }).verify(esToken),
    ).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('refuses alg none and HS256 keyed with a published key', async () => {
    const verifier = service();
    const none = `${encodeSegment({ alg: 'none', kid: 'rsa-1' })}.${encodeSegment({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'x',
      tenant_id: 't',
      exp: clock.nowSec() + 60,
    })}.`;
    expect(await reasonOf(verifier.verify(none))).toBe('bad_algorithm');
    const confused = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'x', tenant_id: 't' })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .setExpirationTime(clock.nowSec() + 60)
      .sign(Buffer.from(rsaOne.publicKeyPem));
    expect(await reasonOf(verifier.verify(confused))).toBe('bad_algorithm');
    // Refused before any key lookup.
    expect(jwks.fetches).toBe(0);
  });

  it('reads tenant and roles from the configured claims', async () => {
    const verifier = service({ tenantClaim: 'https://keel.dev/tenant', rolesClaim: 'scope' });
    const t = await token(rsaOne, 'rsa-1', {
      'https://keel.dev/tenant': 'acme',
      scope: 'agents:read agents:write',
    });
    await expect(verifier.verify(t)).resolves.toMatchObject({
      tenant: 'acme',
      roles: ['agents:read', 'agents:write'],
    });
    const withoutTenant = await token(rsaOne, 'rsa-1');
    expect(await reasonOf(verifier.verify(withoutTenant))).toBe('missing_claim');
  });

  it('uses the injected clock for exp while caching on the wall clock', async () => {
    const verifier = service();
    const t = await token(rsaOne, 'rsa-1', { exp: clock.nowSec() + 10 });
    await verifier.verify(t);
    clock.advance(40_000);
    expect(await reasonOf(verifier.verify(t))).toBe('expired');
    expect(jwks.fetches).toBe(1);
  });

  it('reports an unreachable or broken JWKS as unavailable, not as a bad token', async () => {
    jwks.status = 500;
    const verifier = service();
    const t = await token(rsaOne, 'rsa-1');
    await expect(verifier.verify(t)).rejects.toThrow(JwksUnavailableError);
    // Recovers on the next call once the provider is back.
    jwks.status = 200;
    await expect(verifier.verify(t)).resolves.toMatchObject({ subject: 'user-1' });

    const closed = new JwksServer();
    await closed.start();
    const url = closed.url;
    await closed.stop();
    const unreachable = new JwtService(
      resolveJwtOptions({
        issuer: ISSUER,
        audience: AUDIENCE,
        key: { kind: 'jwks', url, timeoutMs: 2_000 },
      }),
      clock,
    );
    const error: unknown = await unreachable.verify(t).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JwksUnavailableError);
    expect((error as Error).message).toBe(`JWKS at ${url} could not be fetched`);
  });
});
