/** Injection token of the resolved {@link ResolvedAuditOptions}. */
export const AUDIT_OPTIONS = Symbol('AUDIT_OPTIONS');
