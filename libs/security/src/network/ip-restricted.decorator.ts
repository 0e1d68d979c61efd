import { Reflector } from '@nestjs/core';

/**
 * Only clients on the admin IP allow-list (`ADMIN_IP_ALLOW_LIST`) may call this route or
 * controller; `IpAllowListGuard` enforces it.
 */
export const IpRestricted = Reflector.createDecorator<boolean>({ transform: () => true });
