import { BadRequestException } from '@nestjs/common';

/** A chat request Keel will not route; `param` names the field, as OpenAI's errors do. */
export class InvalidGatewayRequestError extends BadRequestException {
  constructor(
    message: string,
    readonly param: string | null,
  ) {
    super(message);
  }
}
