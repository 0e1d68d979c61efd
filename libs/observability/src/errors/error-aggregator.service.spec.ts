import { FakeClock } from '@keel/core/testing';

import type {
  ErrorTrackingOptions,
  ResolvedObservabilityOptions,
} from '../interfaces/observability-options.interface';
import { ErrorAggregator } from './error-aggregator.service';

/** Aligned to a 10 s bucket, so offsets below read as positions in the window. */
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const where = { component: 'agents', operation: 'run' };

class NotFoundError extends Error {}

function setup(errors: Partial<ErrorTrackingOptions> = {}) {
  const clock = new FakeClock(T0);
  const options = {
    errors: {
      windowMs: 60_000,
      bucketMs: 10_000,
      degradedErrorRate: 0.1,
      minRequests: 10,
      maxFingerprints: 100,
      ...errors,
    },
  } as ResolvedObservabilityOptions;
  return { clock, aggregator: new ErrorAggregator(clock, options) };
}

function recordRequests(aggregator: ErrorAggregator, ok: number, failed: number): void {
  for (let i = 0; i < ok; i++) aggregator.recordRequest(false);
  for (let i = 0; i < failed; i++) aggregator.recordRequest(true);
}

describe('ErrorAggregator', () => {
  describe('requests', () => {
    it('reports an empty window without dividing by zero', () => {
      const { aggregator } = setup();
      expect(aggregator.snapshot()).toEqual({
        windowSeconds: 60,
        requests: 0,
        failedRequests: 0,
        errorRate: 0,
        errorsPerMinute: 0,
        degraded: false,
        errors: [],
      });
    });

    it('computes the failed share across buckets', () => {
      const { aggregator, clock } = setup();
      recordRequests(aggregator, 6, 1);
      clock.advance(25_000);
      recordRequests(aggregator, 2, 1);
      expect(aggregator.snapshot()).toMatchObject({
        requests: 10,
        failedRequests: 2,
        errorRate: 0.2,
      });
    });

    it('keeps a bucket until the window has passed its start, and drops it exactly then', () => {
      const { aggregator, clock } = setup();
      aggregator.recordRequest(true); // bucket [0 s, 10 s)
      clock.set(T0 + 9_999);
      aggregator.recordRequest(false); // same bucket
      clock.set(T0 + 10_000);
      aggregator.recordRequest(false); // bucket [10 s, 20 s)

      clock.set(T0 + 59_999);
      expect(aggregator.snapshot()).toMatchObject({ requests: 3, failedRequests: 1 });
      clock.set(T0 + 60_000);
      expect(aggregator.snapshot()).toMatchObject({ requests: 1, failedRequests: 0 });
      clock.set(T0 + 69_999);
      expect(aggregator.snapshot()).toMatchObject({ requests: 1 });
      clock.set(T0 + 70_000);
      expect(aggregator.snapshot()).toMatchObject({ requests: 0 });
    });

    it('reuses a slot of the ring without carrying over its old count', () => {
      const { aggregator, clock } = setup();
      recordRequests(aggregator, 5, 5);
      clock.advance(60_000); // the same slot, one lap later
      aggregator.recordRequest(false);
      expect(aggregator.snapshot()).toMatchObject({ requests: 1, failedRequests: 0 });
      clock.advance(10 * 60_000); // long idle: every slot is stale
      expect(aggregator.snapshot()).toMatchObject({ requests: 0 });
    });

    it('answers for a shorter window, clamped to one bucket and to the configured window', () => {
      const { aggregator, clock } = setup();
      recordRequests(aggregator, 1, 0);
      clock.advance(10_000);
      recordRequests(aggregator, 2, 0);
      clock.advance(10_000);
      recordRequests(aggregator, 4, 0);

      expect(aggregator.snapshot(20_000)).toMatchObject({ windowSeconds: 20, requests: 6 });
      expect(aggregator.snapshot(15_000)).toMatchObject({ windowSeconds: 20, requests: 6 });
      expect(aggregator.snapshot(1)).toMatchObject({ windowSeconds: 10, requests: 4 });
      expect(aggregator.snapshot(86_400_000)).toMatchObject({ windowSeconds: 60, requests: 7 });
    });
  });

  describe('degraded', () => {
    it.each([
      ['is degraded above the rate over more than minRequests', 17, 3, true],
      ['is degraded above the rate over exactly minRequests', 7, 3, true],
      ['is not degraded above the rate over fewer than minRequests', 5, 4, false],
      ['is not degraded exactly at the rate', 18, 2, false],
      ['is not degraded below the rate', 19, 1, false],
    ])('%s', (_label, ok, failed, degraded) => {
      const { aggregator } = setup({ degradedErrorRate: 0.1, minRequests: 10 });
      recordRequests(aggregator, ok, failed);
      expect(aggregator.snapshot().degraded).toBe(degraded);
    });
  });

  describe('errors', () => {
    it('groups errors by location, class and fingerprint', () => {
      const { aggregator, clock } = setup();
      aggregator.recordError(new NotFoundError('agent 11 not found'), where);
      clock.advance(1_500);
      aggregator.recordError(new NotFoundError('agent 42 not found'), where);
      aggregator.recordError(new Error('agent 42 not found'), where);
      aggregator.recordError(new NotFoundError('agent 42 not found'), {
        component: 'agents',
        operation: 'cancel',
      });

      const { errors } = aggregator.snapshot();
      expect(errors).toHaveLength(3);
      expect(errors[0]).toEqual({
        component: 'agents',
        operation: 'run',
        errorClass: 'NotFoundError',
        fingerprint: 'agent <n> not found',
        count: 2,
        firstSeen: '2026-01-01T00:00:00.000Z',
        lastSeen: '2026-01-01T00:00:01.500Z',
        sample: 'agent 42 not found',
      });
      expect(errors.map((e) => [e.operation, e.errorClass])).toEqual(
        expect.arrayContaining([
          ['run', 'Error'],
          ['cancel', 'NotFoundError'],
        ]),
      );
    });

    it('names thrown non-Error values NonError', () => {
      const { aggregator } = setup();
      aggregator.recordError('quota 7 exceeded', where);
      aggregator.recordError({ code: 'E_QUOTA' }, where);
      expect(aggregator.snapshot().errors).toEqual([
        expect.objectContaining({
          errorClass: 'NonError',
          fingerprint: '{ code: <str> }',
          sample: "{ code: 'E_QUOTA' }",
        }),
        expect.objectContaining({ errorClass: 'NonError', fingerprint: 'quota <n> exceeded' }),
      ]);
    });

    it('truncates the sample to 500 characters', () => {
      const { aggregator } = setup();
      aggregator.recordError(new Error('x'.repeat(2_000)), where);
      expect(aggregator.snapshot().errors[0].sample).toHaveLength(500);
    });

    it('sorts groups by count, most frequent first, then most recently seen', () => {
      const { aggregator, clock } = setup();
      const record = (operation: string, times: number) => {
        for (let i = 0; i < times; i++)
          aggregator.recordError(new Error('boom'), { ...where, operation });
        clock.advance(1_000);
      };
      record('a', 1);
      record('b', 3);
      record('c', 2);
      record('d', 1);
      expect(aggregator.snapshot().errors.map((e) => [e.operation, e.count])).toEqual([
        ['b', 3],
        ['c', 2],
        ['d', 1],
        ['a', 1],
      ]);
    });

    it('counts errors per minute over the window', () => {
      const { aggregator } = setup({ windowMs: 120_000 });
      for (let i = 0; i < 6; i++) aggregator.recordError(new Error('boom'), where);
      expect(aggregator.snapshot().errorsPerMinute).toBe(3);
      expect(aggregator.snapshot(30_000).errorsPerMinute).toBe(12);
    });

    it('lets error counts expire with their bucket and starts a group afresh after that', () => {
      const { aggregator, clock } = setup();
      aggregator.recordError(new Error('boom'), where);
      clock.advance(30_000);
      aggregator.recordError(new Error('boom'), where);

      clock.set(T0 + 59_999);
      expect(aggregator.snapshot().errors[0].count).toBe(2);
      clock.set(T0 + 60_000);
      expect(aggregator.snapshot().errors[0]).toMatchObject({
        count: 1,
        firstSeen: '2026-01-01T00:00:00.000Z',
      });
      expect(aggregator.snapshot(20_000).errors).toEqual([]);
      clock.set(T0 + 90_000);
      expect(aggregator.snapshot().errors).toEqual([]);

      aggregator.recordError(new Error('boom'), where);
      expect(aggregator.snapshot().errors[0]).toMatchObject({
        count: 1,
        firstSeen: '2026-01-01T00:01:30.000Z',
      });
    });

    it('drops the least recently seen group beyond maxFingerprints', () => {
      const { aggregator, clock } = setup({ maxFingerprints: 2 });
      const record = (operation: string) => {
        aggregator.recordError(new Error('boom'), { ...where, operation });
        clock.advance(1_000);
      };
      record('a');
      record('b');
      record('a'); // now b is the least recently seen
      record('c');
      expect(aggregator.snapshot().errors.map((e) => [e.operation, e.count])).toEqual([
        ['a', 2],
        ['c', 1],
      ]);
      record('d');
      expect(aggregator.snapshot().errors.map((e) => e.operation)).toEqual(['d', 'c']);
    });
  });
});
