import { Public, Roles } from '@keel/security';
import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
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
 * Routes for load-balancer and shutdown drills and for benchmarks (`DEBUG_ROUTES=true`,
 * refused in production): a request that takes as long as asked, and one answer served
 * both without and with authentication and rate limits, to measure what those cost.
 */
@ApiTags('debug')
@Controller('debug')
export class DebugController {
  @Get('sleep')
  @Public()
  @SkipThrottle()
  @ApiOperation({ summary: 'Answer after `ms` milliseconds' })
  @ApiOkResponse({ description: 'Slept.' })
  async sleep(@Query() query: SleepQueryDto): Promise<{ sleptMs: number }> {
    await new Promise((resolve) => setTimeout(resolve, query.ms));
    return { sleptMs: query.ms };
  }

  @Get('echo')
  @Public()
  @SkipThrottle()
  @ApiOperation({ summary: 'A fixed answer, with no authentication or rate limit' })
  echo(): { ok: true } {
    return { ok: true };
  }

  @Get('echo/authenticated')
  @Roles(['admin', 'operator', 'member'])
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The same answer behind authentication and rate limits' })
  echoAuthenticated(): { ok: true } {
    return { ok: true };
  }
}
