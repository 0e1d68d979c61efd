import * as jwt from './index';

describe('jwt public API', () => {
  it('exports the service, options, errors, clock and tokens', () => {
    expect(Object.keys(jwt).sort()).toEqual([
      'DEFAULT_ROLES_CLAIM',
      'DEFAULT_TENANT_CLAIM',
      'InvalidJwtOptionsError',
      'InvalidTokenError',
      'JWT_OPTIONS',
      'JwksUnavailableError',
      'JwtClock',
      'JwtService',
      'resolveJwtOptions',
      'systemJwtClock',
    ]);
  });
});
