import { BadRequestException } from '@nestjs/common';

/** A create or list request the service refuses (past expiry, unknown scope, bad cursor). */
export class InvalidApiKeyRequestError extends BadRequestException {}
