import { randomUUID } from 'node:crypto';

import { errorMessage } from '@keel/core';
import type { OnApplicationShutdown } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';

import type { RevocationEvent, RevocationListener } from './revocation-bus';
import { MemoryRevocationBus } from './revocation-bus';

export interface RedisRevocationBusOptions {
  /**
   * The pub/sub channel. Every replica of one service must use the same; keep it distinct
   * per service sharing a Redis.
   * @default 'keel:revocations'
   */
  channel?: string;
  /** @default new Logger('Security') */
  logger?: Pick<Logger, 'log' | 'warn'>;
}

export const DEFAULT_REVOCATION_CHANNEL = 'keel:revocations';
/** Ids and prefixes this long or longer are not ours; such a message is dropped. */
const MAX_ID_LENGTH = 128;

/**
 * A revocation bus over Redis pub/sub: `publish` tells this process at once and the other
 * replicas through `channel`. It subscribes on a connection of its own (a duplicate of
 * `client`, opened on the first `subscribe`, closed on shutdown); the app keeps owning
 * `client`. Whenever that connection (re)subscribes, listeners get `{ kind: 'all' }`:
 * whatever was published while it was cut off is lost, so caches start over.
 */
export class RedisRevocationBus extends MemoryRevocationBus implements OnApplicationShutdown {
  readonly channel: string;
  private readonly logger: Pick<Logger, 'log' | 'warn'>;
  /** Tells this process' own messages (already delivered) apart from other replicas'. */
  private readonly origin = randomUUID();
  private subscriber?: Redis;
  private listening = false;
  private outage = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly client: Pick<Redis, 'publish' | 'duplicate'>,
    options: RedisRevocationBusOptions = {},
  ) {
    super();
    this.channel = options.channel ?? DEFAULT_REVOCATION_CHANNEL;
    this.logger = options.logger ?? new Logger('Security');
  }

  override async publish(event: RevocationEvent): Promise<void> {
    this.deliver(event);
    try {
      await this.client.publish(this.channel, JSON.stringify({ ...event, origin: this.origin }));
    } catch (error) {
      this.logger.warn(
        `Could not publish a revocation (${event.kind}) to Redis; other replicas see it when ` +
          `their cached copy expires: ${errorMessage(error)}`,
      );
    }
  }

  override subscribe(listener: RevocationListener): () => void {
    this.start();
    return super.subscribe(listener);
  }

  /** Resolves once this replica listens on the channel (tests; startup need not wait). */
  whenListening(): Promise<void> {
    this.start();
    if (this.listening) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const subscriber = this.subscriber;
    if (!subscriber) return;
    // Not connected: QUIT would wait on the reconnect loop; just stop it.
    if (subscriber.status !== 'ready') {
      subscriber.disconnect();
      return;
    }
    try {
      await subscriber.quit();
    } catch {
      subscriber.disconnect();
    }
  }

  private start(): void {
    if (this.subscriber || this.closed) return;
    // Connects at once even when the app's client was made lazy.
    const subscriber = this.client.duplicate({ lazyConnect: false });
    this.subscriber = subscriber;
    subscriber.on('error', (error: Error) => {
      if (!this.outage) {
        this.logger.warn(
          `Revocations from other replicas are not arriving (Redis: ${error.message}); ` +
            'cached users and API keys expire on their own meanwhile',
        );
      }
      this.outage = true;
    });
    subscriber.on('close', () => {
      this.listening = false;
    });
    subscriber.on('ready', () => void this.listen(subscriber));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
  }

  private async listen(subscriber: Redis): Promise<void> {
    try {
      await subscriber.subscribe(this.channel);
    } catch (error) {
      // The connection dropped again; the next 'ready' tries anew.
      this.logger.warn(`Could not subscribe to ${this.channel}: ${errorMessage(error)}`);
      return;
    }
    if (this.closed) return;
    if (this.outage) this.logger.log('Revocations from other replicas arrive again');
    this.outage = false;
    this.listening = true;
    // Whatever was published while this connection was not listening is lost.
    this.deliver({ kind: 'all' });
    for (const resolve of this.waiters) resolve();
    this.waiters.clear();
  }

  private receive(message: string): void {
    const event = parseEvent(message);
    if (event === undefined || event.origin === this.origin) return;
    this.deliver(event.event);
  }
}

/** A message of another replica, or undefined when it is not one of ours. */
function parseEvent(message: string): { origin: unknown; event: RevocationEvent } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { kind, userId, prefix, origin } = parsed as Record<string, unknown>;
  const id = (value: unknown): value is string =>
    typeof value === 'string' && value !== '' && value.length <= MAX_ID_LENGTH;
  if (kind === 'user' && id(userId)) return { origin, event: { kind, userId } };
  if (kind === 'api-key' && id(prefix)) return { origin, event: { kind, prefix } };
  if (kind === 'all') return { origin, event: { kind } };
  return undefined;
}
