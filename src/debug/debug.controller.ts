import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';

export class SleepQueryDto {
  @ApiPropertyOptional({ minimum: 0, maximum: 10_000, default: 100 })
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(10_000)
  ms = 100;
}

/**
 * Routes for load-balancer and shutdown drills (`DEBUG_ROUTES=true`, refused in
 * production): a request that takes as long as asked, to watch draining at work.
 */
@ApiTags('debug')
@Controller('debug')
export class DebugController {
  @Get('sleep')
  @ApiOperation({ summary: 'Answer after `ms` milliseconds' })
  @ApiOkResponse({ description: 'Slept.' })
  async sleep(@Query() query: SleepQueryDto): Promise<{ sleptMs: number }> {
    await new Promise((resolve) => setTimeout(resolve, query.ms));
    return { sleptMs: query.ms };
  }
}
