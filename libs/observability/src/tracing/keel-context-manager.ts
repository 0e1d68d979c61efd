import type { AsyncLocalStorage } from 'node:async_hooks';

import type { Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

/**
 * OpenTelemetry's AsyncLocalStorage context manager plus `enterWith`, which Fastify hooks
 * need: they cannot wrap the rest of a request in a callback, only make a context current
 * for what follows. A spec pins the base class' storage field, so an upgrade that renames
 * it fails loudly.
 */
export class KeelContextManager extends AsyncLocalStorageContextManager {
  enterWith(context: Context): void {
    (
      this as unknown as { _asyncLocalStorage: AsyncLocalStorage<Context> }
    )._asyncLocalStorage.enterWith(context);
  }
}
