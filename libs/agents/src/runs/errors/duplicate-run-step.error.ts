import { ConflictException } from '@nestjs/common';

/** A tool step with this tool call id is stored already; the call must not run again. */
export class DuplicateRunStepError extends ConflictException {
  constructor(
    readonly runId: string,
    readonly toolCallId: string,
  ) {
    super(`Run ${runId} already has a step for tool call ${toolCallId}`);
  }
}
