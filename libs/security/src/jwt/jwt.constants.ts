/** Resolved options (`resolveJwtOptions`) that `JwtService` is built from. */
export const JWT_OPTIONS = Symbol('JWT_OPTIONS');
