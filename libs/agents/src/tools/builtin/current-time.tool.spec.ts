import type { Clock } from '@keel/core';

import { CurrentTimeTool } from './current-time.tool';

describe('CurrentTimeTool', () => {
  // 2026-07-01T12:34:56.789Z, in summer time in Paris and New York.
  const now = Date.UTC(2026, 6, 1, 12, 34, 56, 789);
  const clock: Clock = { now: () => now };
  const tool = new CurrentTimeTool(clock);

  it('reads UTC from the clock by default', async () => {
    await expect(tool.execute({})).resolves.toEqual({
      iso: '2026-07-01T12:34:56.789Z',
      timezone: 'UTC',
      unix: 1_782_909_296,
      local: '2026-07-01T12:34:56+00:00',
    });
  });

  it.each([
    ['Europe/Paris', 'Europe/Paris', '2026-07-01T14:34:56+02:00'],
    ['America/New_York', 'America/New_York', '2026-07-01T08:34:56-04:00'],
    ['Asia/Kolkata', 'Asia/Kolkata', '2026-07-01T18:04:56+05:30'],
    ['europe/paris', 'Europe/Paris', '2026-07-01T14:34:56+02:00'],
    ['Pacific/Kiritimati', 'Pacific/Kiritimati', '2026-07-02T02:34:56+14:00'],
  ])('gives the local time in %s', async (timezone, resolved, local) => {
    const output = await tool.execute({ timezone });
    expect(output).toEqual({
      iso: '2026-07-01T12:34:56.789Z',
      timezone: resolved,
      unix: 1_782_909_296,
      local,
    });
  });

  it('writes midnight as 00, not 24', async () => {
    const midnight = new CurrentTimeTool({ now: () => Date.UTC(2026, 0, 1) });
    await expect(midnight.execute({})).resolves.toMatchObject({
      local: '2026-01-01T00:00:00+00:00',
    });
  });

  it('falls back to the system clock', async () => {
    const before = Date.now();
    const { unix } = await new CurrentTimeTool().execute({});
    expect(unix).toBeGreaterThanOrEqual(Math.floor(before / 1000));
  });
});
