/**
 * How deep arrays and objects may nest in the JSON values Keel reads from requests and
 * models and walks or serialises (tool schemas, tool arguments): far more than any real
 * schema needs, far less than what overflows the stack of a recursive walk (a few thousand
 * levels, `JSON.stringify` included).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether arrays and objects in `value` nest deeper than `maxDepth` (`{}` is one level,
 * `[{}]` two). Walks without recursion, so any depth is safe to ask about; stops at the
 * first level past the limit, so a cycle answers true.
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const pending: object[] = [value];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const node = pending.pop()!;
    const depth = depths.pop()!;
    if (depth > maxDepth) return true;
    const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (child !== null && typeof child === 'object') {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
