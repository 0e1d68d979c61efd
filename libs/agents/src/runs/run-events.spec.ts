import { RunEvents } from './run-events';

describe('RunEvents', () => {
  it("wakes a run's subscribers only, until they unsubscribe", () => {
    const events = new RunEvents();
    const mine = jest.fn();
    const other = jest.fn();
    const unsubscribe = events.subscribe('t1', 'r1', mine);
    events.subscribe('t2', 'r1', other);

    events.changed('t1', 'r1');
    events.changed('t1', 'r2');

    expect(mine).toHaveBeenCalledTimes(1);
    expect(mine).toHaveBeenCalledWith({ tenantId: 't1', runId: 'r1' });
    expect(other).not.toHaveBeenCalled();
    expect(events.listenerCount('t1', 'r1')).toBe(1);
    expect(events.listenerCount()).toBe(2);

    unsubscribe();
    unsubscribe();
    events.changed('t1', 'r1');
    expect(mine).toHaveBeenCalledTimes(1);
    expect(events.listenerCount('t1', 'r1')).toBe(0);
    expect(events.listenerCount()).toBe(1);
  });

  it('takes any number of subscribers without a leak warning', () => {
    const events = new RunEvents();
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const off = Array.from({ length: 50 }, () => events.subscribe('t', 'r', () => undefined));
    expect(events.listenerCount('t', 'r')).toBe(50);
    for (const unsubscribe of off) unsubscribe();
    expect(events.listenerCount()).toBe(0);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});
