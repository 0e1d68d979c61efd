import { Clock } from '@keel/core';
import { Injectable } from '@nestjs/common';
import { DiscoveryModule, Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';

import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { OBSERVABILITY_OPTIONS } from '../observability.constants';
import { ErrorAggregator } from './error-aggregator.service';
import { TrackErrors, trackErrorsMetadata } from './track-errors.decorator';
import { TrackErrorsExplorer } from './track-errors.explorer';

class PaymentDeclinedError extends Error {}

@Injectable()
class PaymentsService {
  readonly currency = 'EUR';

  @TrackErrors({ component: 'payments' })
  charge(amount: number): string {
    if (amount < 0) throw new PaymentDeclinedError(`negative amount ${amount}`);
    return `${amount} ${this.currency}`;
  }

  @TrackErrors({ component: 'payments', operation: 'refund-later' })
  async refund(amount: number): Promise<string> {
    await Promise.resolve();
    if (amount < 0) throw new PaymentDeclinedError(`negative refund ${amount}`);
    return `-${amount} ${this.currency}`;
  }

  balance(): number {
    throw new Error('not tracked');
  }
}

describe('TrackErrorsExplorer', () => {
  let moduleRef: TestingModule;
  let payments: PaymentsService;
  let recordError: jest.SpyInstance;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [DiscoveryModule],
      providers: [
        TrackErrorsExplorer,
        ErrorAggregator,
        PaymentsService,
        { provide: Clock, useValue: { now: () => 0 } satisfies Clock },
        {
          provide: OBSERVABILITY_OPTIONS,
          useValue: {
            errors: {
              windowMs: 60_000,
              bucketMs: 10_000,
              degradedErrorRate: 0.05,
              minRequests: 20,
              maxFingerprints: 100,
            },
          } as ResolvedObservabilityOptions,
        },
      ],
    }).compile();
    await moduleRef.init();
    payments = moduleRef.get(PaymentsService);
    recordError = jest.spyOn(moduleRef.get(ErrorAggregator), 'recordError');
  });

  afterEach(() => moduleRef.close());

  it('records a synchronous throw under the method name and rethrows the same error', () => {
    let thrown: unknown;
    try {
      payments.charge(-5);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PaymentDeclinedError);
    expect(recordError).toHaveBeenCalledTimes(1);
    expect(recordError).toHaveBeenCalledWith(thrown, {
      component: 'payments',
      operation: 'charge',
    });
  });

  it('records a rejection under the given operation and rejects with the same error', async () => {
    const refund = payments.refund(-5);
    await expect(refund).rejects.toBeInstanceOf(PaymentDeclinedError);
    const error: unknown = await refund.catch((e: unknown) => e);
    expect(recordError).toHaveBeenCalledTimes(1);
    expect(recordError).toHaveBeenCalledWith(error, {
      component: 'payments',
      operation: 'refund-later',
    });
  });

  it('keeps return values and `this`, and records nothing on success', async () => {
    expect(payments.charge(5)).toBe('5 EUR');
    await expect(payments.refund(5)).resolves.toBe('-5 EUR');
    expect(recordError).not.toHaveBeenCalled();
  });

  it('feeds the aggregator snapshot', () => {
    expect(() => payments.charge(-1)).toThrow(PaymentDeclinedError);
    expect(() => payments.charge(-2)).toThrow(PaymentDeclinedError);
    expect(moduleRef.get(ErrorAggregator).snapshot().errors).toEqual([
      expect.objectContaining({
        component: 'payments',
        operation: 'charge',
        errorClass: 'PaymentDeclinedError',
        fingerprint: 'negative amount -<n>',
        count: 2,
      }),
    ]);
  });

  it('leaves undecorated methods alone', () => {
    expect(Object.hasOwn(payments, 'balance')).toBe(false);
    expect(() => payments.balance()).toThrow('not tracked');
    expect(recordError).not.toHaveBeenCalled();
  });

  it('keeps the name and metadata of the wrapped method', () => {
    expect(Object.hasOwn(payments, 'charge')).toBe(true);
    expect(payments.charge.name).toBe('charge');
    expect(moduleRef.get(Reflector).get(trackErrorsMetadata, payments.charge)).toEqual({
      component: 'payments',
    });
  });

  it('does not wrap a method twice', () => {
    moduleRef.get(TrackErrorsExplorer).onModuleInit();
    expect(() => payments.charge(-1)).toThrow(PaymentDeclinedError);
    expect(recordError).toHaveBeenCalledTimes(1);
  });
});
