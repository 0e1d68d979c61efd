import { setTimeout as sleep } from 'node:timers/promises';

import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';

import { KeelContextManager } from './keel-context-manager';

describe('KeelContextManager', () => {
  const key = createContextKey('test');
  const manager = new KeelContextManager().enable();
  afterAll(() => manager.disable());

  it('enterWith makes a context active for what follows, across awaits', async () => {
    await manager.with(ROOT_CONTEXT, async () => {
      manager.enterWith(ROOT_CONTEXT.setValue(key, 'entered'));
      await sleep(1);
      expect(manager.active().getValue(key)).toBe('entered');
    });
  });

  it('still behaves as the OpenTelemetry context manager it extends', () => {
    const context = ROOT_CONTEXT.setValue(key, 'with');
    expect(manager.with(context, () => manager.active().getValue(key))).toBe('with');
    const bound = manager.bind(context, () => manager.active().getValue(key));
    expect(bound()).toBe('with');
  });
});
