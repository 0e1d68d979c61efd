import { BadRequestException } from '@nestjs/common';

/** A JSON body whose arrays and objects nest deeper than the configured limit. */
export class JsonBodyTooDeepError extends BadRequestException {
  constructor(readonly maxDepth: number) {
    super(`JSON body nested deeper than ${maxDepth} levels`);
  }
}
