/**
 * A `Map` that keeps at most `maxEntries`, evicting the least recently read or written.
 * Keyv's memory adapter takes any Map-like store; a plain `Map` would grow without bound.
 */
export class LruMap<V> extends Map<string, V> {
  constructor(private readonly maxEntries: number) {
    super();
  }

  override get(key: string): V | undefined {
    if (!super.has(key)) return undefined;
    const value = super.get(key) as V;
    // Re-insert so iteration order is least recently used first.
    super.delete(key);
    super.set(key, value);
    return value;
  }

  override set(key: string, value: V): this {
    super.delete(key);
    super.set(key, value);
    while (this.size > this.maxEntries) {
      const oldest = this.keys().next();
      if (oldest.done === true) break;
      super.delete(oldest.value);
    }
    return this;
  }
}
