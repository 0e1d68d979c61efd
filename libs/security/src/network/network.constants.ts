/** Injection token of the {@link IpAllowList} that guards `@IpRestricted()` routes. */
export const ADMIN_IP_ALLOW_LIST = Symbol('ADMIN_IP_ALLOW_LIST');
