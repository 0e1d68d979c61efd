/** What `within` answers when the time ran out first. */
export const TIMED_OUT = Symbol('TIMED_OUT');

/**
 * The promise's value, or `TIMED_OUT` once `ms` passed first (the promise goes on, unheard);
 * a rejection passes through. The timer is cleared either way.
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
