import { BatchedWriter } from './batched-writer';

describe('BatchedWriter', () => {
  it('writes what was pushed in batches, on the next turn of the event loop', async () => {
    const batches: number[][] = [];
    const writer = new BatchedWriter<number>({
      write: (batch) => {
        batches.push(batch);
        return Promise.resolve();
      },
      maxQueued: 100,
      batchSize: 3,
    });
    for (let i = 0; i < 7; i++) writer.push(i);
    expect(batches).toEqual([]);
    await writer.flush();
    expect(batches).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  it('waits delayMs for more items, but writes a full batch at once', async () => {
    const batches: number[][] = [];
    const writer = new BatchedWriter<number>({
      write: (batch) => {
        batches.push(batch);
        return Promise.resolve();
      },
      maxQueued: 100,
      batchSize: 2,
      delayMs: 60_000,
    });
    writer.push(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([]);
    writer.push(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1, 2]]);
    writer.push(3);
    await writer.flush();
    expect(batches).toEqual([[1, 2], [3]]);
  });

  it('drops items beyond maxQueued and reports each burst once, then how many it dropped', async () => {
    const events: string[] = [];
    const writer = new BatchedWriter<string>({
      write: () => Promise.resolve(),
      maxQueued: 2,
      onDropStart: (item) => events.push(`first drop: ${item}`),
      onDropEnd: (dropped) => events.push(`dropped ${dropped}`),
    });
    expect(['a', 'b', 'c', 'd'].map((item) => writer.push(item))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    await writer.flush();
    expect(events).toEqual(['first drop: c', 'dropped 2']);
    expect(writer.dropped).toBe(2);
    writer.push('e');
    writer.push('f');
    writer.push('g');
    await writer.flush();
    expect(events).toEqual(['first drop: c', 'dropped 2', 'first drop: g', 'dropped 1']);
    expect(writer.dropped).toBe(3);
  });

  it('loses only the batch whose write failed, and counts it', async () => {
    const written: number[][] = [];
    const failures: string[] = [];
    const writer = new BatchedWriter<number>({
      write: (batch) => {
        if (batch.includes(2)) return Promise.reject(new Error('disk full'));
        written.push(batch);
        return Promise.resolve();
      },
      maxQueued: 100,
      batchSize: 2,
      onWriteFailed: (batch, error) => failures.push(`${batch.join(',')}: ${String(error)}`),
    });
    for (let i = 0; i < 6; i++) writer.push(i);
    await writer.flush();
    expect(written).toEqual([
      [0, 1],
      [4, 5],
    ]);
    expect(failures).toEqual(['2,3: Error: disk full']);
    expect(writer.failed).toBe(2);
  });

  it('writes one batch at a time, and items pushed meanwhile follow', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batches: number[][] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const writer = new BatchedWriter<number>({
      write: async (batch) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        if (batch[0] === 1) await gate;
        batches.push(batch);
        concurrent--;
      },
      maxQueued: 100,
    });
    writer.push(1);
    const first = writer.flush();
    writer.push(2);
    release();
    await first;
    await writer.flush();
    expect(batches).toEqual([[1], [2]]);
    expect(maxConcurrent).toBe(1);
  });
});

describe('BatchedWriter with toItem', () => {
  it('makes items only for inputs it keeps, and counts a bad input dropped when full', async () => {
    const made: string[] = [];
    const written: string[][] = [];
    const writer = new BatchedWriter<string, { name: string } | null>({
      toItem: (input) => {
        made.push(input!.name);
        return input!.name.toUpperCase();
      },
      write: (batch) => {
        written.push(batch);
        return Promise.resolve();
      },
      maxQueued: 1,
    });
    writer.push({ name: 'a' });
    expect(writer.push(null)).toBe(false);
    await writer.flush();
    expect({ made, written, dropped: writer.dropped }).toEqual({
      made: ['a'],
      written: [['A']],
      dropped: 1,
    });
    expect(() => writer.push(null)).toThrow(TypeError);
  });
});
