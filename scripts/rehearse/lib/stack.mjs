// What every rehearsal starts with: a fresh PostgreSQL database (migrated once, as compose's
// `migrate` service does), a Redis of its own, the fake vendor, and Keel's production
// environment (docker/compose.yaml's, with secrets generated here); then a tenant member and
// an agent to drive traffic as.
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';

import { startFakeOpenAi } from './fake-openai.mjs';
import { call } from './load.mjs';
import { createDatabase, migrate, startRedis } from './processes.mjs';

export const ADMIN = { email: 'admin@rehearsal.test', password: randomBytes(12).toString('hex') };

export async function startBackingServices({ logDir, prefix }) {
  const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  if (!serverUrl.startsWith('postgres')) {
    throw new Error('DATABASE_URL must be a postgres:// URL: replicas share one database');
  }
  const [database, redis, vendor] = await Promise.all([
    createDatabase(serverUrl, prefix),
    startRedis({ logDir }),
    startFakeOpenAi(),
  ]);
  const metricsToken = randomBytes(24).toString('hex');
  const sharedSecrets = {
    jwt: randomBytes(32).toString('hex'),
    encryption: randomBytes(32).toString('base64'),
  };
  /** The environment of compose's x-keel-environment, for `role` on `port`. */
  const keelEnv = (role, port, extra = {}) => ({
    NODE_ENV: 'production',
    LOG_FORMAT: 'json',
    HOST: '127.0.0.1',
    PORT: String(port),
    APP_ROLE: role,
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    JWT_SECRET: sharedSecrets.jwt,
    ENCRYPTION_KEYS: `k1:${sharedSecrets.encryption}`,
    METRICS_TOKEN: metricsToken,
    DB_MIGRATE_ON_START: 'false',
    KEEP_ALIVE_TIMEOUT_MS: '75000',
    OTEL_SERVICE_NAME: `keel-${role}`,
    // One member drives all the load: the per-caller limits would answer 429 to it.
    RATE_LIMIT_BURST_LIMIT: '1000000',
    RATE_LIMIT_SUSTAINED_LIMIT: '100000000',
    LLM_PROVIDERS: JSON.stringify([
      { name: 'openai', kind: 'openai-compatible', baseUrl: vendor.url, apiKey: 'sk-rehearsal' },
    ]),
    LLM_MODEL_ALIASES: JSON.stringify({ default: [{ provider: 'openai', model: 'gpt-4o-mini' }] }),
    ...(role === 'worker'
      ? {}
      : { TRUST_PROXY: '1', ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password }),
    ...extra,
  });
  await migrate(keelEnv('api', 0), { logDir });
  return {
    database,
    redis,
    vendor,
    metricsToken,
    keelEnv,
    async stop() {
      await Promise.allSettled([redis.stop(), vendor.close()]);
      await database.drop();
    },
  };
}

/**
 * Signs in as the admin, creates a tenant with a member, signs in as the member and creates
 * an agent on the `default` alias: the caller and agent the load uses.
 */
export async function prepareTenant(baseUrl) {
  const agent = new Agent({ keepAlive: false });
  const must = async (expect, method, path, headers, body) => {
    const res = await call(agent, baseUrl, method, path, headers, body);
    if (res.status !== expect) {
      throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.json)}`);
    }
    return res.json;
  };
  const signIn = async (email, password) => {
    const token = await must(200, 'POST', '/v1/auth/token', {}, { email, password });
    return { authorization: `Bearer ${token.access_token}` };
  };
  const admin = await signIn(ADMIN.email, ADMIN.password);
  const tenant = await must(201, 'POST', '/v1/admin/tenants', admin, { name: 'rehearsal' });
  const member = { email: `member@${tenant.id}.test`, password: randomBytes(12).toString('hex') };
  await must(201, 'POST', '/v1/admin/users', admin, {
    ...member,
    tenantId: tenant.id,
    roles: ['member'],
  });
  const headers = await signIn(member.email, member.password);
  const created = await must(201, 'POST', '/v1/agents', headers, {
    name: 'rehearsal-agent',
    instructions: 'Answer briefly.',
    model: 'default',
    tools: [],
  });
  return { headers, agentId: created.id, member };
}
