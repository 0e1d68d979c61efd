import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * The provider failed in a way a fallback cannot fix and the caller cannot either (it
 * refused Keel's credentials, or answered something unreadable): 502, with no vendor text.
 */
export class ProviderUnavailableError extends HttpException {
  constructor(
    readonly provider: string,
    reason: string,
    cause?: unknown,
  ) {
    super(`The provider "${provider}" failed (${reason})`, HttpStatus.BAD_GATEWAY, { cause });
  }
}
