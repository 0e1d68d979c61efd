import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';

import { KeelContextManager } from '../tracing/keel-context-manager';
import { RequestContextService } from './request-context';

describe('RequestContextService', () => {
  const contexts = new RequestContextService();

  it('is undefined outside a request', () => {
    expect(contexts.get()).toBeUndefined();
  });

  it('survives awaits, timers and streams', async () => {
    const seen: (string | undefined)[] = [];
    await contexts.run({ requestId: 'r1' }, async () => {
      await Promise.resolve();
      seen.push(contexts.get()?.requestId);
      await sleep(1);
      seen.push(contexts.get()?.requestId);
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          seen.push(contexts.get()?.requestId);
          resolve();
        }, 1),
      );
      await pipeline(
        Readable.from(['a', 'b']),
        new Transform({
          objectMode: true,
          transform(chunk: string, _encoding, callback) {
            seen.push(`${contexts.get()?.requestId}:${chunk}`);
            callback();
          },
        }),
      );
    });
    expect(seen).toEqual(['r1', 'r1', 'r1', 'r1:a', 'r1:b']);
  });

  it('keeps concurrent requests apart', async () => {
    const read = (id: string, delay: number) =>
      contexts.run({ requestId: id }, async () => {
        await sleep(delay);
        return contexts.get()?.requestId;
      });
    expect(await Promise.all([read('a', 5), read('b', 1), read('c', 3)])).toEqual(['a', 'b', 'c']);
  });

  it('lets later code add the user to the current context', async () => {
    const context = { requestId: 'r2' };
    await contexts.run(context, async () => {
      await Promise.resolve();
      contexts.assign({ userId: 'u1', tenantId: 't1' });
    });
    expect(context).toEqual({ requestId: 'r2', userId: 'u1', tenantId: 't1' });
    expect(() => contexts.assign({ userId: 'nobody' })).not.toThrow();
  });

  it('enter() makes a context current for what follows', async () => {
    await contexts.run({ requestId: 'outer' }, async () => {
      contexts.enter({ requestId: 'entered' });
      await sleep(1);
      expect(contexts.get()?.requestId).toBe('entered');
    });
  });
});

describe('RequestContextService inside OpenTelemetry context', () => {
  const manager = new KeelContextManager().enable();
  const contexts = new RequestContextService();
  contexts.useContextManager(manager);
  afterAll(() => manager.disable());

  it('carries the request context and the span context in one storage', async () => {
    const key = createContextKey('other');
    await manager.with(ROOT_CONTEXT, async () => {
      contexts.enter({ requestId: 'otel' }, ROOT_CONTEXT.setValue(key, 'span'));
      await sleep(1);
      expect(contexts.get()?.requestId).toBe('otel');
      expect(manager.active().getValue(key)).toBe('span');
    });
    expect(
      await contexts.run({ requestId: 'run' }, async () => {
        await sleep(1);
        return contexts.get()?.requestId;
      }),
    ).toBe('run');
  });
});
