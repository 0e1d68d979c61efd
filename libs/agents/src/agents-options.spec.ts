import { resolveAgentsOptions } from './agents-options';

describe('resolveAgentsOptions', () => {
  it('fills defaults', () => {
    expect(resolveAgentsOptions({})).toEqual({ defaultPageSize: 20, maxPageSize: 100 });
    expect(resolveAgentsOptions({ defaultPageSize: undefined })).toEqual({
      defaultPageSize: 20,
      maxPageSize: 100,
    });
  });

  it('keeps given values', () => {
    expect(resolveAgentsOptions({ defaultPageSize: 5, maxPageSize: 5 })).toEqual({
      defaultPageSize: 5,
      maxPageSize: 5,
    });
  });

  it.each([
    [{ defaultPageSize: 0 }, /defaultPageSize must be an integer/],
    [{ maxPageSize: 1.5 }, /maxPageSize must be an integer/],
    [{ maxPageSize: 5000 }, /maxPageSize must be an integer/],
    [{ defaultPageSize: 50, maxPageSize: 10 }, /must not exceed maxPageSize/],
  ])('rejects %j', (options, message) => {
    expect(() => resolveAgentsOptions(options)).toThrow(message);
  });
});
