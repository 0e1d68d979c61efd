import { BadRequestException } from '@nestjs/common';

/** A filter, limit or cursor of an audit query is unusable (400). */
export class InvalidAuditQueryError extends BadRequestException {}
