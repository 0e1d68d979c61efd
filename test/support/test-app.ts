import { StartupOrchestrator } from '@keel/health';
import type { Role } from '@keel/security';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

import { createApp } from '../../src/app.factory';
import type { AppConfig } from '../../src/config';
import { loadConfig } from '../../src/config';
import type { TestDatabase } from './test-database';
import { createTestDatabase } from './test-database';

export const TEST_ADMIN = { email: 'admin@keel.test', password: 'admin-password-0123' };
export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789abcdefghijklmnop';

export interface TestUser {
  id: string;
  tenantId: string;
  email: string;
  password: string;
  token: string;
  /** `{ authorization: 'Bearer <token>' }`, to spread into `inject` headers. */
  headers: Record<string, string>;
}

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  database: TestDatabase;
  /** The bootstrap admin, signed in. */
  admin: TestUser;
  /** Signs in and returns the access token. */
  login(email: string, password: string): Promise<string>;
  /** A new tenant with one user in it (created through the admin API), signed in. */
  createTenantUser(roles?: Role[], tenantName?: string): Promise<TestUser>;
  close(): Promise<void>;
}

let counter = 0;

/**
 * Boots the real app (same factory and startup checks as `main.ts`) on a fresh database,
 * with a bootstrap admin signed in. Requests go through Fastify's `inject`, so the whole
 * request path runs, without a socket. Rate limits are high unless a test sets them.
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'fatal',
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    RATE_LIMIT_BURST_LIMIT: '100000',
    RATE_LIMIT_SUSTAINED_LIMIT: '1000000',
    ...database.env,
    ...env,
  });
  const app = await createApp(config);
  await app.get(StartupOrchestrator).run();

  const login = async (email: string, password: string): Promise<string> => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      payload: { email, password },
    });
    if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
    return res.json<{ access_token: string }>().access_token;
  };
  const signedIn = async (email: string, password: string): Promise<TestUser> => {
    const token = await login(email, password);
    const me = await app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: { authorization: `Bearer ${token}` },
    });
    const { userId, tenantId } = me.json<{ userId: string; tenantId: string }>();
    return {
      id: userId,
      tenantId,
      email,
      password,
      token,
      headers: { authorization: `Bearer ${token}` },
    };
  };
  const admin = await signedIn(TEST_ADMIN.email, TEST_ADMIN.password);

  return {
    app,
    config,
    database,
    admin,
    login,
    createTenantUser: async (roles: Role[] = ['member'], tenantName?: string) => {
      counter += 1;
      const tenant = await app.inject({
        method: 'POST',
        url: '/v1/admin/tenants',
        headers: admin.headers,
        payload: { name: tenantName ?? `tenant-${process.pid}-${counter}` },
      });
      if (tenant.statusCode !== 201) throw new Error(`tenant: ${tenant.statusCode} ${tenant.body}`);
      const email = `user-${counter}@${tenant.json<{ id: string }>().id}.test`;
      const password = `password-${counter}-0123456789`;
      const user = await app.inject({
        method: 'POST',
        url: '/v1/admin/users',
        headers: admin.headers,
        payload: { email, password, tenantId: tenant.json<{ id: string }>().id, roles },
      });
      if (user.statusCode !== 201) throw new Error(`user: ${user.statusCode} ${user.body}`);
      return signedIn(email, password);
    },
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}
