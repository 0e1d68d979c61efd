import { DEFAULT_AUDIT_OPTIONS, resolveAuditOptions } from './audit-options';
import { InvalidAuditOptionsError } from './errors/invalid-audit-options.error';

describe('resolveAuditOptions', () => {
  it('fills in the defaults', () => {
    expect(resolveAuditOptions()).toEqual({
      retentionDays: 90,
      pruneIntervalMs: 3_600_000,
      maxQueuedEvents: 10_000,
    });
    expect(resolveAuditOptions({})).toEqual(DEFAULT_AUDIT_OPTIONS);
  });

  it('keeps valid values, including 0 days (keep forever)', () => {
    expect(
      resolveAuditOptions({ retentionDays: 0, pruneIntervalMs: 60_000, maxQueuedEvents: 1 }),
    ).toEqual({ retentionDays: 0, pruneIntervalMs: 60_000, maxQueuedEvents: 1 });
  });

  it.each([
    [{ retentionDays: -1 }, 'retentionDays'],
    [{ retentionDays: 1.5 }, 'retentionDays'],
    [{ retentionDays: Number.NaN }, 'retentionDays'],
    [{ retentionDays: '30' as unknown as number }, 'retentionDays'],
    [{ pruneIntervalMs: 0 }, 'pruneIntervalMs'],
    [{ pruneIntervalMs: 2 ** 31 }, 'pruneIntervalMs'],
    [{ maxQueuedEvents: 0 }, 'maxQueuedEvents'],
  ])('refuses %p naming %s', (options, name) => {
    expect(() => resolveAuditOptions(options)).toThrow(InvalidAuditOptionsError);
    expect(() => resolveAuditOptions(options)).toThrow(name);
  });

  it('lists every problem at once', () => {
    const error = (() => {
      try {
        resolveAuditOptions({ retentionDays: -1, pruneIntervalMs: -1, maxQueuedEvents: -1 });
      } catch (e) {
        return e as InvalidAuditOptionsError;
      }
    })();
    expect(error).toBeInstanceOf(InvalidAuditOptionsError);
    expect(error?.name).toBe('InvalidAuditOptionsError');
    expect(error?.problems).toHaveLength(3);
  });
});
