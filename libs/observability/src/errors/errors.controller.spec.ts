import { BadRequestException, ValidationPipe } from '@nestjs/common';
import type { ArgumentMetadata } from '@nestjs/common';

import { ErrorSnapshotQueryDto } from './dto/error-snapshot-query.dto';
import type { ErrorAggregator, ErrorSnapshot } from './error-aggregator.service';
import { ErrorsController } from './errors.controller';

describe('ErrorsController', () => {
  const snapshot: ErrorSnapshot = {
    windowSeconds: 300,
    requests: 0,
    failedRequests: 0,
    errorRate: 0,
    errorsPerMinute: 0,
    degraded: false,
    errors: [],
  };

  it.each([
    [{}, undefined],
    [{ minutes: 5 }, 300_000],
  ])('asks the aggregator for the window of %j', (query, windowMs) => {
    const aggregator = { snapshot: jest.fn().mockReturnValue(snapshot) };
    const controller = new ErrorsController(aggregator as unknown as ErrorAggregator);
    expect(controller.snapshot(query)).toBe(snapshot);
    expect(aggregator.snapshot).toHaveBeenCalledWith(windowMs);
  });
});

describe('ErrorSnapshotQueryDto', () => {
  // The app's global pipe has these options (and more); a library cannot import the app.
  const pipe = new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true });
  const metadata: ArgumentMetadata = { type: 'query', metatype: ErrorSnapshotQueryDto };

  it.each([
    [{}, {}],
    [{ minutes: '1' }, { minutes: 1 }],
    [{ minutes: '1440' }, { minutes: 1440 }],
  ])('accepts %j', async (query, expected) => {
    await expect(pipe.transform(query, metadata)).resolves.toEqual(expected);
  });

  it.each([['0'], ['1441'], ['1.5'], ['-3'], ['abc'], ['']])(
    'rejects minutes=%j with 400',
    async (minutes) => {
      await expect(pipe.transform({ minutes }, metadata)).rejects.toBeInstanceOf(
        BadRequestException,
      );
    },
  );
});
