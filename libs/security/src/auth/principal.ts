/** Roles a user holds in their tenant, most powerful first. */
export const ROLES = ['admin', 'operator', 'member'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who is calling: set on the request by the auth guard (`request.user`), read with
 * `@CurrentPrincipal()`. Access tokens carry it whole; only whether their user still
 * stands behind them is checked (cached, see `AccessTokenRevocationService`).
 */
export interface Principal {
  /** `user` for an access token, `api-key` for an API key. */
  readonly kind: 'user' | 'api-key';
  /** Every resource the principal touches is scoped to this tenant. */
  readonly tenantId: string;
  /** The user (token subject), or for an API key the user who created it. */
  readonly userId: string;
  /** Set for API keys only. */
  readonly apiKeyId?: string;
  /** For an API key: the roles of the user who created it, when it was created. */
  readonly roles: readonly Role[];
  /** `null` for user tokens (every scope); an API key's granted scopes otherwise. */
  readonly scopes: readonly string[] | null;
}

/** How the audit log names a principal: `api-key:<id>` for a key, else `user:<id>`. */
export function actorOf(principal: Principal): string {
  return principal.apiKeyId ? `api-key:${principal.apiKeyId}` : `user:${principal.userId}`;
}
