import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export class FieldErrorDto {
  @ApiProperty({
    description: 'Path of the bad field; `(body)` for the body itself.',
    example: 'name',
  })
  field!: string;

  @ApiProperty({ type: [String], example: ['name must be shorter than or equal to 64 characters'] })
  messages!: string[];
}

/** An error response (RFC 9457), as every error of this API is answered. */
export class ProblemDetailsDto {
  @ApiProperty({
    description: 'Problem type URI; `about:blank` when the status says it all.',
    example: 'about:blank',
  })
  type!: string;

  @ApiProperty({ example: 'Bad Request' })
  title!: string;

  @ApiProperty({ example: 400 })
  status!: number;

  @ApiProperty({ example: 'The request body is invalid.' })
  detail!: string;

  @ApiProperty({ description: 'Path of the request that failed.', example: '/v1/agents' })
  instance!: string;

  @ApiProperty({ description: 'Same as the `X-Request-Id` response header.' })
  requestId!: string;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Present on validation errors.' })
  errors?: FieldErrorDto[];
}
