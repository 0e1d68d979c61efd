import { resolveRunsOptions } from './runs-options';

describe('resolveRunsOptions', () => {
  it('fills the defaults', () => {
    expect(resolveRunsOptions({})).toEqual({
      concurrency: 8,
      maxWaitMs: 30_000,
      resumeLimit: 1000,
      shutdownGraceMs: 10_000,
    });
  });

  it('keeps given values', () => {
    expect(
      resolveRunsOptions({ concurrency: 1, maxWaitMs: 0, resumeLimit: 5, shutdownGraceMs: 0 }),
    ).toEqual({
      concurrency: 1,
      maxWaitMs: 0,
      resumeLimit: 5,
      shutdownGraceMs: 0,
    });
  });

  it('names every bad option', () => {
    expect(() => resolveRunsOptions({ concurrency: 0, maxWaitMs: 1.5, resumeLimit: -1 })).toThrow(
      'Invalid RunsModule options: concurrency must be an integer between 1 and 1000; ' +
        'maxWaitMs must be an integer between 0 and 600000; ' +
        'resumeLimit must be an integer between 1 and 100000',
    );
  });
});
