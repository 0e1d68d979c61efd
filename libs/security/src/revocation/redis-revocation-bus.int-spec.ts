import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';

import { closeClient } from '../rate-limit/testing/close-redis-client';
import { RedisRevocationBus } from './redis-revocation-bus';
import type { RevocationEvent } from './revocation-bus';

const URL = 'redis://127.0.0.1:6379';

/** Never skips: a suite that silently passes without Redis proves nothing (CI starts it). */
async function connectOrFail(connectionName?: string): Promise<Redis> {
  const client = new Redis(URL, {
    connectionName,
    lazyConnect: true,
    connectTimeout: 1_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // The bus' subscriber is a duplicate: it must reconnect after the test cuts it off.
    retryStrategy: () => 50,
  });
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (error) {
    await closeClient(client);
    throw new Error(
      `The revocation bus suite needs Redis on ${URL} and could not reach it ` +
        `(${error instanceof Error ? error.message : String(error)}). ` +
        `Start it: redis-server --port 6379 --save '' --appendonly no --daemonize yes`,
    );
  }
}

const quietLogger = () => ({ log: jest.fn(), warn: jest.fn() });

/** Resolves with the first event `matches` accepts, or rejects after `ms`. */
function nextEvent(
  bus: RedisRevocationBus,
  matches: (event: RevocationEvent) => boolean,
  ms = 2_000,
): Promise<RevocationEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching event in ${ms} ms`)), ms);
    const stop = bus.subscribe((event) => {
      if (!matches(event)) return;
      clearTimeout(timer);
      stop();
      resolve(event);
    });
  });
}

describe('RedisRevocationBus against Redis', () => {
  const channel = `keel:revocations:test:${randomUUID()}`;
  const clients: Redis[] = [];
  const buses: RedisRevocationBus[] = [];

  async function replica(
    options = { channel },
    connectionName?: string,
  ): Promise<RedisRevocationBus> {
    const client = await connectOrFail(connectionName);
    clients.push(client);
    const bus = new RedisRevocationBus(client, { ...options, logger: quietLogger() });
    buses.push(bus);
    await bus.whenListening();
    return bus;
  }

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.onApplicationShutdown()));
    await Promise.all(clients.splice(0).map((client) => closeClient(client)));
  });

  it("carries one replica's events to the other, and tells its own listeners at once", async () => {
    const [a, b] = [await replica(), await replica()];
    const seenByA: RevocationEvent[] = [];
    a.subscribe((event) => seenByA.push(event));
    const atB = nextEvent(b, (event) => event.kind === 'user');

    const publishing = a.publish({ kind: 'user', userId: 'u-1' });
    expect(seenByA).toEqual([{ kind: 'user', userId: 'u-1' }]);
    await publishing;
    await expect(atB).resolves.toEqual({ kind: 'user', userId: 'u-1' });

    const keyAtA = nextEvent(a, (event) => event.kind === 'api-key');
    await b.publish({ kind: 'api-key', prefix: 'abcdefghijkl' });
    await expect(keyAtA).resolves.toEqual({ kind: 'api-key', prefix: 'abcdefghijkl' });
    // Its own message, echoed by Redis, is not delivered twice.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seenByA.filter((event) => event.kind === 'user')).toHaveLength(1);
  });

  it('ignores other channels and messages that are not revocations', async () => {
    const bus = await replica();
    const other = await replica({ channel: `${channel}:other` });
    const seen: RevocationEvent[] = [];
    bus.subscribe((event) => seen.push(event));
    await other.publish({ kind: 'user', userId: 'elsewhere' });
    for (const junk of [
      'not json',
      '42',
      '{"kind":"user"}',
      `{"kind":"user","userId":"${'x'.repeat(129)}"}`,
    ]) {
      await clients[0].publish(channel, junk);
    }
    const marker = nextEvent(bus, (event) => event.kind === 'user');
    await other.publish({ kind: 'all' });
    await clients[0].publish(channel, JSON.stringify({ kind: 'user', userId: 'marker' }));
    await marker;
    expect(seen).toEqual([{ kind: 'user', userId: 'marker' }]);
  });

  it('tells its listeners to drop everything when it (re)subscribes', async () => {
    // The subscriber is a duplicate of the client, so it carries the same name.
    const name = `revocation-test-${randomUUID()}`;
    const bus = await replica({ channel }, name);
    const dropped = nextEvent(bus, (event) => event.kind === 'all', 5_000);
    // Cut the subscriber's connection (only ours: the server is shared) as an outage would.
    const list = (await clients[0].client('LIST', 'TYPE', 'PUBSUB')) as string;
    const id = list
      .split('\n')
      .find((line) => line.includes(` name=${name} `))
      ?.match(/^id=(\d+)/)?.[1];
    expect(id).toBeDefined();
    await clients[0].client('KILL', 'ID', id!);
    await expect(dropped).resolves.toEqual({ kind: 'all' });
    await bus.whenListening();
  });

  it('does not throw when Redis cannot take the message', async () => {
    const client = await connectOrFail();
    clients.push(client);
    const logger = quietLogger();
    const bus = new RedisRevocationBus(client, { channel, logger });
    buses.push(bus);
    const seen: RevocationEvent[] = [];
    bus.subscribe((event) => seen.push(event));
    await closeClient(client);
    await expect(bus.publish({ kind: 'user', userId: 'u-2' })).resolves.toBeUndefined();
    expect(seen).toContainEqual({ kind: 'user', userId: 'u-2' });
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/Could not publish/));
  });
});
