import { ApiProperty } from '@nestjs/swagger';

import type { BreakerState } from '../../policy/dependency-policy';

export class CircuitDto {
  @ApiProperty({ example: 'openai' })
  dependency!: string;

  @ApiProperty({ enum: ['closed', 'half-open', 'open', 'isolated'], example: 'closed' })
  state!: BreakerState;

  @ApiProperty({ description: 'An open breaker fails readiness.', example: false })
  critical!: boolean;
}
