import type { ExecutionContext } from '@nestjs/common';

/**
 * A value worked out once per route, the first time it is asked for, such as what its
 * decorators say (the reflector's lookups cost more than the rest of a guard). A route is a
 * handler in a controller: one handler can be inherited by several controllers.
 */
export class PerRoute<T> {
  private readonly byHandler = new WeakMap<object, WeakMap<object, T>>();

  constructor(private readonly read: (handler: object, controller: object) => T) {}

  of(context: ExecutionContext): T {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byController = this.byHandler.get(handler);
    if (byController === undefined) {
      byController = new WeakMap();
      this.byHandler.set(handler, byController);
    }
    let value = byController.get(controller);
    if (value === undefined) {
      value = this.read(handler, controller);
      byController.set(controller, value);
    }
    return value;
  }
}
