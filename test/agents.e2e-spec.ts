import type { NestFastifyApplication } from '@nestjs/platform-fastify';

import type { TestApp } from './support/test-app';
import { startTestApp } from './support/test-app';

const valid = {
  name: 'support-triage',
  description: 'Sorts tickets',
  instructions: 'You triage support tickets.',
  model: 'default',
  tools: ['calculator', 'current_time'],
  maxSteps: 5,
  timeoutMs: 30_000,
};

describe('/v1/agents', () => {
  let testApp: TestApp;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    testApp = await startTestApp();
    app = testApp.app;
  });
  afterAll(() => testApp.close());

  const post = (payload: unknown) =>
    app.inject({
      method: 'POST',
      url: '/v1/agents',
      payload: payload as object,
      headers: testApp.admin.headers,
    });
  const create = async (overrides: Record<string, unknown> = {}) => {
    const res = await post({ ...valid, ...overrides });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: string; name: string; createdAt: string; updatedAt: string }>();
  };

  it('creates an agent definition and reads it back', async () => {
    const created = await create({ name: 'crud-1' });
    expect(created).toMatchObject({ ...valid, name: 'crud-1' });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.createdAt).toBe(created.updatedAt);

    const res = await app.inject({
      method: 'GET',
      url: `/v1/agents/${created.id}`,
      headers: testApp.admin.headers,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(created);
  });

  it('fills defaults for optional fields', async () => {
    const res = await post({ name: 'defaults', instructions: 'Be brief.', model: 'fast' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      description: '',
      tools: [],
      maxSteps: 10,
      timeoutMs: 120_000,
    });
  });

  it('answers 409 problem+json to a duplicate name, and keeps the first', async () => {
    const first = await create({ name: 'dup' });
    const res = await post({ ...valid, name: 'dup', instructions: 'other' });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 409, title: 'Conflict' });
    const kept = await app.inject({
      method: 'GET',
      url: `/v1/agents/${first.id}`,
      headers: testApp.admin.headers,
    });
    expect(kept.json()).toMatchObject({ instructions: valid.instructions });
  });

  it('turns concurrent creates of one name into exactly one 201', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => post({ ...valid, name: 'race' })),
    );
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
  });

  it('names each bad field in a 400', async () => {
    const res = await post({
      name: 'has space',
      instructions: '',
      model: 42,
      tools: ['ok', 'not ok'],
      maxSteps: 0,
      timeoutMs: 10,
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json<{ errors: { field: string }[] }>();
    expect(body.errors.map((e) => e.field).sort()).toEqual(
      ['instructions', 'maxSteps', 'model', 'name', 'timeoutMs', 'tools'].sort(),
    );
  });

  it('rejects unknown properties', async () => {
    const res = await post({ ...valid, name: 'unknown-prop', admin: true });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ errors: [{ field: 'admin' }] });
  });

  it.each([
    ['an array', []],
    ['a string', 'agent'],
    ['null', null],
  ])('rejects a body that is %s', async (_label, payload) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/agents',
      headers: { ...testApp.admin.headers, 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('rejects out-of-bounds sizes', async () => {
    const tooMany = Array.from({ length: 33 }, (_, i) => `t${i}`);
    for (const overrides of [
      { name: 'x'.repeat(65) },
      { instructions: 'x'.repeat(32_001) },
      { tools: tooMany },
      { tools: ['a', 'a'] },
      { maxSteps: 101 },
      { maxSteps: 1.5 },
      { timeoutMs: 3_600_001 },
    ]) {
      const res = await post({ ...valid, name: 'bounds', ...overrides });
      expect([res.statusCode, overrides]).toEqual([400, overrides]);
    }
  });

  it('updates some fields and refreshes updatedAt', async () => {
    const created = await create({ name: 'to-update' });
    const res = await app.inject({
      method: 'PATCH',
      url: `/v1/agents/${created.id}`,
      payload: { description: 'changed', maxSteps: 7 },
      headers: testApp.admin.headers,
    });
    expect(res.statusCode).toBe(200);
    const updated = res.json<{ updatedAt: string; createdAt: string }>();
    expect(updated).toMatchObject({ name: 'to-update', description: 'changed', maxSteps: 7 });
    expect(updated.createdAt).toBe(created.createdAt);
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
  });

  it('rejects null and unknown fields in an update, and changes nothing', async () => {
    const created = await create({ name: 'null-update' });
    for (const payload of [{ name: null }, { instructions: null }, { owner: 'x' }]) {
      const res = await app.inject({
        method: 'PATCH',
        url: `/v1/agents/${created.id}`,
        payload,
        headers: testApp.admin.headers,
      });
      expect(res.statusCode).toBe(400);
    }
    const after = await app.inject({
      method: 'GET',
      url: `/v1/agents/${created.id}`,
      headers: testApp.admin.headers,
    });
    expect(after.json()).toEqual(created);
  });

  it('answers 409 when an update takes a used name', async () => {
    await create({ name: 'taken' });
    const other = await create({ name: 'renamed-later' });
    const res = await app.inject({
      method: 'PATCH',
      url: `/v1/agents/${other.id}`,
      payload: { name: 'taken' },
      headers: testApp.admin.headers,
    });
    expect(res.statusCode).toBe(409);
    const after = await app.inject({
      method: 'GET',
      url: `/v1/agents/${other.id}`,
      headers: testApp.admin.headers,
    });
    expect(after.json()).toMatchObject({ name: 'renamed-later' });
  });

  it('deletes, then answers 404', async () => {
    const created = await create({ name: 'to-delete' });
    const del = await app.inject({
      method: 'DELETE',
      url: `/v1/agents/${created.id}`,
      headers: testApp.admin.headers,
    });
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe('');
    for (const method of ['GET', 'DELETE', 'PATCH'] as const) {
      const res = await app.inject({
        method,
        url: `/v1/agents/${created.id}`,
        payload: {},
        headers: testApp.admin.headers,
      });
      expect([method, res.statusCode]).toEqual([method, 404]);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('answers 400 to an id that is not a UUID', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/agents/not-a-uuid',
      headers: testApp.admin.headers,
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('/v1/agents pagination', () => {
  let testApp: TestApp;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    testApp = await startTestApp();
    app = testApp.app;
    for (let i = 0; i < 25; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/agents',
        payload: { ...valid, name: `page-${String(i).padStart(2, '0')}` },
        headers: testApp.admin.headers,
      });
      expect(res.statusCode).toBe(201);
    }
  });
  afterAll(() => testApp.close());

  type Page = {
    data: { id: string; name: string; createdAt: string }[];
    nextCursor: string | null;
  };
  const list = async (query: string) => {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/agents${query}`,
      headers: testApp.admin.headers,
    });
    expect(res.statusCode).toBe(200);
    return res.json<Page>();
  };

  it('walks every item exactly once, in (createdAt, id) order, while items are added', async () => {
    const seen: Page['data'] = [];
    let page = await list('?limit=10');
    seen.push(...page.data);
    // An insert between pages must neither shift nor repeat what is left to read.
    await app.inject({
      method: 'POST',
      url: '/v1/agents',
      payload: { ...valid, name: 'late' },
      headers: testApp.admin.headers,
    });
    while (page.nextCursor) {
      page = await list(`?limit=10&cursor=${page.nextCursor}`);
      seen.push(...page.data);
    }
    const names = seen.map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([
      'late',
      ...Array.from({ length: 25 }, (_, i) => `page-${String(i).padStart(2, '0')}`),
    ]);
    const key = (a: Page['data'][number]) => `${a.createdAt}|${a.id}`;
    expect(seen.map(key)).toEqual(seen.map(key).sort());
  });

  it('uses the default page size of 20', async () => {
    const page = await list('');
    expect(page.data).toHaveLength(20);
    expect(page.nextCursor).not.toBeNull();
  });

  it('ends with a null cursor on an exact last page', async () => {
    const total = (await list('?limit=100')).data.length;
    const first = await list(`?limit=${total - 20}`);
    const rest = await list(`?limit=20&cursor=${first.nextCursor}`);
    expect(rest.data).toHaveLength(20);
    expect(rest.nextCursor).toBeNull();
  });

  it.each([
    '?limit=0',
    '?limit=abc',
    '?limit=101',
    '?limit=1&limit=2',
    '?cursor=bm9wZQ',
    '?sort=name',
  ])('answers 400 to %s', async (query) => {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/agents${query}`,
      headers: testApp.admin.headers,
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
