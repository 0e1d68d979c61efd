import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';

import { ErrorSnapshotQueryDto } from './dto/error-snapshot-query.dto';
import { ErrorSnapshotDto } from './dto/error-snapshot.dto';
import { ErrorAggregator } from './error-aggregator.service';

const MINUTE_MS = 60_000;

/** Error samples can carry user data: serve this only behind authentication or internally. */
@ApiTags('admin')
@Controller('admin/errors')
export class ErrorsController {
  constructor(private readonly aggregator: ErrorAggregator) {}

  @Get()
  @ApiOperation({ summary: 'Request error rate and grouped errors over a recent window' })
  @ApiOkResponse({ type: ErrorSnapshotDto })
  @ApiBadRequestResponse({ description: '`minutes` is not an integer from 1 to 1440.' })
  snapshot(@Query() query: ErrorSnapshotQueryDto): ErrorSnapshotDto {
    return this.aggregator.snapshot(
      query.minutes === undefined ? undefined : query.minutes * MINUTE_MS,
    );
  }
}
