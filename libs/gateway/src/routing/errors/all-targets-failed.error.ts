import { HttpException, HttpStatus } from '@nestjs/common';

import type { RoutingAttempt } from '../model-routing';

/**
 * Every target of a model's chain failed with a failure worth falling back on. 502: the
 * upstreams failed, not the request. The message names targets and failure reasons only,
 * never a vendor's message, key or URL; `lastError` (also `cause`) keeps the last failure.
 */
export class AllTargetsFailedError extends HttpException {
  constructor(
    readonly model: string,
    readonly attempts: readonly RoutingAttempt[],
    readonly lastError: unknown,
  ) {
    const tried = attempts.map((a) => `${a.provider}/${a.model} (${a.error})`).join(', ');
    super(`Every target for model "${model}" failed: ${tried}`, HttpStatus.BAD_GATEWAY, {
      cause: lastError,
    });
    this.name = 'AllTargetsFailedError';
  }
}
