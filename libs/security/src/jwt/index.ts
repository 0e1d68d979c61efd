export { InvalidJwtOptionsError } from './invalid-jwt-options.error';
export { InvalidTokenError } from './invalid-token.error';
export type { InvalidTokenReason } from './invalid-token.error';
export { JwksUnavailableError } from './jwks-unavailable.error';
export { JwtClock, systemJwtClock } from './jwt-clock';
export { DEFAULT_ROLES_CLAIM, DEFAULT_TENANT_CLAIM, resolveJwtOptions } from './jwt-options';
export type {
  JwksAlgorithm,
  JwtAsymmetricKeySource,
  JwtHs256KeySource,
  JwtJwksKeySource,
  JwtKeySource,
  JwtVerificationOptions,
  ResolvedJwtJwksKeySource,
  ResolvedJwtKeySource,
  ResolvedJwtOptions,
} from './jwt-options';
export { JWT_OPTIONS } from './jwt.constants';
export { JwtService } from './jwt.service';
export type { JwtSignClaims, JwtSignOptions, VerifiedToken } from './jwt.service';
