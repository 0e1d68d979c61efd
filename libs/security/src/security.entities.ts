import { ApiKeyEntity } from './api-keys/api-key.entity';
import { AuditEventEntity } from './audit/audit-event.entity';
import { RefreshTokenEntity } from './auth/refresh-token.entity';
import { TenantEntity } from './tenants/tenant.entity';
import { UserEntity } from './users/user.entity';

/** Every entity of this library; the app lists them in its DataSource. */
export const SECURITY_ENTITIES = [
  TenantEntity,
  UserEntity,
  RefreshTokenEntity,
  ApiKeyEntity,
  AuditEventEntity,
];
