import { ForbiddenException } from '@nestjs/common';

export type ApiKeyForbiddenReason =
  | 'api_key_cannot_create_keys'
  | 'admin_scope_requires_admin_role'
  | 'api_key_needs_admin_scope'
  | 'not_key_owner';

const MESSAGES: Record<ApiKeyForbiddenReason, string> = {
  api_key_cannot_create_keys: 'An API key cannot create API keys; sign in as a user',
  admin_scope_requires_admin_role: 'Only admins may grant the admin scope',
  api_key_needs_admin_scope: 'Managing API keys with an API key needs the admin scope',
  not_key_owner: 'Members may revoke only their own API keys',
};

export class ApiKeyForbiddenError extends ForbiddenException {
  constructor(readonly reason: ApiKeyForbiddenReason) {
    super(MESSAGES[reason]);
  }
}
