import { Inject, Injectable, Logger } from '@nestjs/common';

import type { ResolvedSecurityOptions } from '../security-options';
import { SECURITY_OPTIONS } from '../security.constants';
import { BOOTSTRAP_TENANT_ID } from '../tenants/tenant.entity';
import { TenantsService } from '../tenants/tenants.service';
import { UsersService } from '../users/users.service';

export type BootstrapOutcome = 'created' | 'users-exist' | 'not-configured';

/**
 * Creates the first tenant and its admin from `bootstrapAdmin` while no user exists, so a
 * fresh install can be signed into. Run it after the migrations (the app does so as a
 * startup check). Later starts find users and change nothing, even if the options change.
 */
@Injectable()
export class BootstrapAdminService {
  private readonly logger = new Logger('Security');

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    private readonly tenants: TenantsService,
    private readonly users: UsersService,
  ) {}

  async ensureBootstrapAdmin(): Promise<BootstrapOutcome> {
    if ((await this.users.count()) > 0) return 'users-exist';
    const admin = this.options.bootstrapAdmin;
    if (!admin) {
      this.logger.warn(
        'No user exists and no bootstrap admin is configured: set ADMIN_EMAIL and ADMIN_PASSWORD to create one',
      );
      return 'not-configured';
    }
    try {
      if (!(await this.tenants.exists(BOOTSTRAP_TENANT_ID))) {
        await this.tenants.create(admin.tenantName, BOOTSTRAP_TENANT_ID);
      }
      await this.users.create({
        email: admin.email,
        password: admin.password,
        tenantId: BOOTSTRAP_TENANT_ID,
        roles: ['admin'],
      });
    } catch (error) {
      // Replicas starting together race here; the one that lost finds the winner's admin.
      if ((await this.users.count()) > 0) return 'users-exist';
      throw error;
    }
    this.logger.log(`Created the bootstrap admin in tenant "${admin.tenantName}"`);
    return 'created';
  }
}
