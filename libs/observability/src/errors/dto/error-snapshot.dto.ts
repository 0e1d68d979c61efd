import { ApiProperty } from '@nestjs/swagger';

import type { ErrorGroup, ErrorSnapshot } from '../error-aggregator.service';

export class ErrorGroupDto implements ErrorGroup {
  @ApiProperty({ example: 'payments', description: 'Where the error was caught.' })
  component!: string;

  @ApiProperty({ example: 'charge' })
  operation!: string;

  @ApiProperty({
    example: 'PaymentDeclinedError',
    description: 'The constructor name, or `NonError` for thrown non-Error values.',
  })
  errorClass!: string;

  @ApiProperty({
    example: 'card <hex> declined: amount <n> over limit',
    description: 'The message with ids, numbers, times, quoted values and emails replaced.',
  })
  fingerprint!: string;

  @ApiProperty({ description: 'Occurrences in the window.' })
  count!: number;

  @ApiProperty({ format: 'date-time' })
  firstSeen!: string;

  @ApiProperty({ format: 'date-time' })
  lastSeen!: string;

  @ApiProperty({ description: 'The most recent message, at most 500 characters.' })
  sample!: string;
}

export class ErrorSnapshotDto implements ErrorSnapshot {
  @ApiProperty({ example: 300, description: 'The window the numbers cover.' })
  windowSeconds!: number;

  @ApiProperty({ description: 'HTTP requests finished in the window.' })
  requests!: number;

  @ApiProperty({ description: 'Of those, the ones answered with a 5xx status.' })
  failedRequests!: number;

  @ApiProperty({ example: 0.012, description: '`failedRequests / requests`; 0 without requests.' })
  errorRate!: number;

  @ApiProperty({ description: 'Recorded errors (not failed requests) per minute.' })
  errorsPerMinute!: number;

  @ApiProperty({
    description:
      'The error rate is above `errors.degradedErrorRate` over at least `errors.minRequests` requests.',
  })
  degraded!: boolean;

  @ApiProperty({ type: [ErrorGroupDto], description: 'Most frequent first.' })
  errors!: ErrorGroupDto[];
}
