import { BullModule } from '@nestjs/bullmq';
import type { DynamicModule, Provider } from '@nestjs/common';

import { BULLMQ_RUN_QUEUE_OPTIONS, BullMqRunQueue } from './bullmq-run-queue';
import type { BullMqRunQueueOptions } from './bullmq-run-queue.options';
import {
  RUN_QUEUE_NAME,
  RUN_WORKER,
  resolveBullMqRunQueueOptions,
} from './bullmq-run-queue.options';
import { InProcessRunQueue } from './in-process-run-queue';
import { runJobProcessorFor } from './run-job.processor';
import { RunQueue } from './run-queue';

/**
 * The `RunsModule` definition with its `RunQueue`: BullMQ's (its queue, and in a worker the job
 * processor) when `bullmq` is given, else the in-process one.
 */
export function withRunQueue(
  definition: DynamicModule,
  bullmq: BullMqRunQueueOptions | undefined,
): DynamicModule {
  let imports = definition.imports ?? [];
  let providers: Provider[];
  if (bullmq) {
    const options = resolveBullMqRunQueueOptions(bullmq);
    imports = [
      ...imports,
      BullModule.registerQueue({
        name: RUN_QUEUE_NAME,
        connection: options.connection,
        prefix: options.prefix,
      }),
    ];
    const processor = options.worker ? runJobProcessorFor(options) : undefined;
    providers = [
      { provide: BULLMQ_RUN_QUEUE_OPTIONS, useValue: options },
      BullMqRunQueue,
      { provide: RunQueue, useExisting: BullMqRunQueue },
      ...(processor ? [processor, { provide: RUN_WORKER, useExisting: processor }] : []),
    ];
  } else {
    providers = [InProcessRunQueue, { provide: RunQueue, useExisting: InProcessRunQueue }];
  }
  return {
    ...definition,
    imports,
    providers: [...(definition.providers ?? []), ...providers],
    exports: [...(definition.exports ?? []), RunQueue],
  };
}
