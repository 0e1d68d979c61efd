import { BadRequestException } from '@nestjs/common';

/** A value whose arrays and objects nest deeper than a walker of it allows. */
export class NestingTooDeepError extends BadRequestException {
  constructor(
    what: string,
    readonly maxDepth: number,
  ) {
    super(`${what} is nested deeper than ${maxDepth} levels`);
  }
}
