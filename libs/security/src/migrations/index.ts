import { CreateTenantsAndUsers1764100000000 } from './1764100000000-create-tenants-and-users';
import { CreateRefreshTokens1764100000100 } from './1764100000100-create-refresh-tokens';
import { CreateApiKeys1764100000200 } from './1764100000200-create-api-keys';
import { CreateAuditEvents1764100000300 } from './1764100000300-create-audit-events';
import { AddUsersTokenVersion1764600000000 } from './1764600000000-add-users-token-version';

/** Every migration of this library, oldest first; the app adds them to its DataSource. */
export const SECURITY_MIGRATIONS = [
  CreateTenantsAndUsers1764100000000,
  CreateRefreshTokens1764100000100,
  CreateApiKeys1764100000200,
  CreateAuditEvents1764100000300,
  AddUsersTokenVersion1764600000000,
];
