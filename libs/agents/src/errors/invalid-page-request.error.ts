import { BadRequestException } from '@nestjs/common';

export class InvalidPageRequestError extends BadRequestException {}
