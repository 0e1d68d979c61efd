import { inspect } from 'node:util';

import { Clock } from '@keel/core';
import { Inject, Injectable } from '@nestjs/common';

import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { OBSERVABILITY_OPTIONS } from '../observability.constants';
import { fingerprintOf } from './error-fingerprint';

const MAX_SAMPLE_LENGTH = 500;

/** Where an error was caught: the component (service, queue, client) and its operation. */
export interface ErrorLocation {
  component: string;
  operation: string;
}

export interface ErrorGroup extends ErrorLocation {
  /** The error's constructor name, or `NonError` for thrown non-Error values. */
  errorClass: string;
  fingerprint: string;
  /** Occurrences in the window. */
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** The most recent message, truncated to 500 characters. */
  sample: string;
}

export interface ErrorSnapshot {
  windowSeconds: number;
  requests: number;
  failedRequests: number;
  /** `failedRequests / requests`; 0 without requests. */
  errorRate: number;
  /** Recorded errors (not failed requests) per minute over the window. */
  errorsPerMinute: number;
  /** The failed share is above `degradedErrorRate` over at least `minRequests` requests. */
  degraded: boolean;
  /** Groups seen in the window, most frequent first. */
  errors: ErrorGroup[];
}

/**
 * Counts per bucket of a ring. A slot belongs to the bucket number in `epochs`; a slot
 * still holding an older bucket is reset when it is next written, so no timer runs.
 */
class BucketRing {
  private readonly epochs: Float64Array;
  private readonly counts: Float64Array;

  constructor(size: number) {
    this.epochs = new Float64Array(size);
    this.counts = new Float64Array(size);
  }

  add(epoch: number): void {
    const slot = epoch % this.counts.length;
    if (this.epochs[slot] !== epoch) {
      this.epochs[slot] = epoch;
      this.counts[slot] = 0;
    }
    this.counts[slot]++;
  }

  /** The sum over buckets `from..to`, both included. */
  sum(from: number, to: number): number {
    let total = 0;
    for (let slot = 0; slot < this.counts.length; slot++) {
      const epoch = this.epochs[slot];
      if (epoch >= from && epoch <= to) total += this.counts[slot];
    }
    return total;
  }
}

interface ErrorEntry extends Omit<ErrorGroup, 'count' | 'firstSeen' | 'lastSeen'> {
  readonly counts: BucketRing;
  readonly firstSeenMs: number;
  lastSeenMs: number;
}

/**
 * In-process error statistics over a sliding window of `windowMs`, kept as fixed buckets
 * of `bucketMs`: the failed share of HTTP requests, and errors grouped by where they were
 * caught, their class and their message fingerprint. A bucket leaves the window whole,
 * so the window covers between `windowMs - bucketMs` and `windowMs` of history.
 */
@Injectable()
export class ErrorAggregator {
  private readonly bucketMs: number;
  private readonly bucketCount: number;
  private readonly requests: BucketRing;
  private readonly failedRequests: BucketRing;
  /** In least-recently-seen-first order, so the first key is the one to evict. */
  private readonly entries = new Map<string, ErrorEntry>();

  constructor(
    @Inject(Clock) private readonly clock: Clock,
    @Inject(OBSERVABILITY_OPTIONS) private readonly options: ResolvedObservabilityOptions,
  ) {
    this.bucketMs = options.errors.bucketMs;
    this.bucketCount = Math.ceil(options.errors.windowMs / this.bucketMs);
    this.requests = new BucketRing(this.bucketCount);
    this.failedRequests = new BucketRing(this.bucketCount);
  }

  /** Counts one finished HTTP request; `failed` for a 5xx answer. Runs on every request. */
  recordRequest(failed: boolean): void {
    const epoch = this.epochOf(this.clock.now());
    this.requests.add(epoch);
    if (failed) this.failedRequests.add(epoch);
  }

  /** Counts one error caught at `where`. */
  recordError(error: unknown, where: ErrorLocation): void {
    const now = this.clock.now();
    const message = messageOf(error);
    const errorClass = error instanceof Error ? error.constructor.name || 'Error' : 'NonError';
    const fingerprint = fingerprintOf(message);
    const key = [where.component, where.operation, errorClass, fingerprint].join('\u0000');

    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
    } else {
      entry = {
        component: where.component,
        operation: where.operation,
        errorClass,
        fingerprint,
        sample: '',
        counts: new BucketRing(this.bucketCount),
        firstSeenMs: now,
        lastSeenMs: now,
      };
    }
    entry.counts.add(this.epochOf(now));
    entry.lastSeenMs = now;
    entry.sample = message.slice(0, MAX_SAMPLE_LENGTH);
    this.entries.set(key, entry);

    if (this.entries.size > this.options.errors.maxFingerprints) {
      const leastRecentlySeen = this.entries.keys().next().value;
      if (leastRecentlySeen !== undefined) this.entries.delete(leastRecentlySeen);
    }
  }

  /**
   * Statistics over the last `windowMs`, clamped between one bucket and the configured
   * window and rounded up to whole buckets.
   */
  snapshot(windowMs = this.options.errors.windowMs): ErrorSnapshot {
    const { degradedErrorRate, minRequests } = this.options.errors;
    const current = this.epochOf(this.clock.now());
    const clampedMs = Math.min(Math.max(windowMs, this.bucketMs), this.options.errors.windowMs);
    const buckets = Math.ceil(clampedMs / this.bucketMs);
    const oldest = current - buckets + 1;
    this.forgetEntriesBefore(current - this.bucketCount + 1);

    const requests = this.requests.sum(oldest, current);
    const failedRequests = this.failedRequests.sum(oldest, current);
    const errorRate = requests === 0 ? 0 : failedRequests / requests;
    const windowSeconds = (buckets * this.bucketMs) / 1000;

    const errors: ErrorGroup[] = [];
    let errorCount = 0;
    for (const entry of this.entries.values()) {
      const count = entry.counts.sum(oldest, current);
      if (count === 0) continue;
      errorCount += count;
      errors.push({
        component: entry.component,
        operation: entry.operation,
        errorClass: entry.errorClass,
        fingerprint: entry.fingerprint,
        count,
        firstSeen: new Date(entry.firstSeenMs).toISOString(),
        lastSeen: new Date(entry.lastSeenMs).toISOString(),
        sample: entry.sample,
      });
    }
    // Entries are least recently seen first; reversing makes equal counts most recent first.
    errors.reverse().sort((a, b) => b.count - a.count);

    return {
      windowSeconds,
      requests,
      failedRequests,
      errorRate,
      errorsPerMinute: errorCount / (windowSeconds / 60),
      degraded: errorRate > degradedErrorRate && requests >= minRequests,
      errors,
    };
  }

  private epochOf(ms: number): number {
    return Math.floor(ms / this.bucketMs);
  }

  /** Drops groups with nothing left in the window, so memory follows current errors. */
  private forgetEntriesBefore(oldestEpoch: number): void {
    for (const [key, entry] of this.entries) {
      // Least recently seen first: the first group still in the window ends the stale ones.
      if (this.epochOf(entry.lastSeenMs) >= oldestEpoch) break;
      this.entries.delete(key);
    }
  }
}

function messageOf(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error instanceof Error) return error.message;
  return inspect(error, { depth: 1, breakLength: Infinity, maxStringLength: MAX_SAMPLE_LENGTH });
}
