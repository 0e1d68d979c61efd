import { systemStartupClock } from './startup-clock';

describe('systemStartupClock', () => {
  it('reads the wall clock', () => {
    const before = Date.now();
    expect(systemStartupClock.now()).toBeGreaterThanOrEqual(before);
  });

  it('sleeps, and stops sleeping when the signal aborts', async () => {
    await expect(
      systemStartupClock.sleep(1, new AbortController().signal),
    ).resolves.toBeUndefined();
    const controller = new AbortController();
    const sleeping = systemStartupClock.sleep(60_000, controller.signal);
    controller.abort();
    await expect(sleeping).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('fires a timer unless cancelled', async () => {
    const fired: string[] = [];
    systemStartupClock.setTimer(1, () => fired.push('kept'));
    const cancel = systemStartupClock.setTimer(1, () => fired.push('cancelled'));
    cancel();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(fired).toEqual(['kept']);
  });
});
