/** Every security event Keel records. */
export const AUDIT_EVENT_TYPES = [
  'auth.login.succeeded',
  'auth.login.failed',
  'auth.login.locked',
  'auth.token.refreshed',
  'auth.token.reused',
  'auth.logout',
  'auth.unauthorized',
  'auth.forbidden',
  'api_key.created',
  'api_key.first_used',
  'api_key.revoked',
  'rate_limit.exceeded',
  'admin.tenant.created',
  'admin.tenant.updated',
  'admin.user.created',
  'admin.user.updated',
  'admin.user.deleted',
  'admin.budget.set',
  'admin.budget.deleted',
  'admin.llm_provider.created',
  'admin.llm_provider.updated',
  'admin.llm_provider.deleted',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** What a caller hands to `AuditService.record`; time and request id are filled in. */
export interface AuditEventInput {
  type: AuditEventType;
  /** The acting user or key: `user:<id>`, `api-key:<id>`, or for failed logins `email:<address>`. */
  actor?: string;
  tenantId?: string;
  /** What was acted upon, e.g. `user:<id>`, `api-key:<id>`, `tenant:<id>`, `budget:<id>`. */
  target?: string;
  ip?: string;
  userAgent?: string;
  /** Defaults to the current request's id (from `RequestContextService`), if any. */
  requestId?: string;
  /** Small, non-secret details (reason of a failure, changed fields). */
  details?: Record<string, string | number | boolean | null>;
}
