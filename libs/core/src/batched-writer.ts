/** What a `BatchedWriter` writes with, how much it holds, and how it reports what it drops. */
export interface BatchedWriterOptions<T, I = T> {
  /**
   * Makes the item to queue from what `push` got; called only when there is room, so a
   * dropped input costs nothing (and a bad one is still counted as dropped when the queue
   * is full). May throw: `push` throws it. @default the input itself
   */
  toItem?(input: I): T;
  /** Writes one batch (at most `batchSize` items). A rejection loses that batch only. */
  write(batch: T[]): Promise<void>;
  /** Items queued at most; `push` drops the ones beyond. */
  maxQueued: number;
  /** Items per `write`. @default 200 */
  batchSize?: number;
  /**
   * How long an item may wait for the next ones: 0 writes on the next turn of the event loop
   * (`setImmediate`), more waits that long (a timer that does not hold the process open). A
   * full batch is written at once either way. @default 0
   */
  delayMs?: number;
  /** The first input dropped since the queue had room again (to log it once per burst). */
  onDropStart?(input: I): void;
  /** Room again after a burst of drops: how many items it dropped. */
  onDropEnd?(dropped: number): void;
  /** A batch that `write` rejected. */
  onWriteFailed?(batch: T[], error: unknown): void;
}

/**
 * Writes items in batches off the caller's path: `push` queues and never waits, a batched
 * write follows on the next turn of the event loop (or after `delayMs`), one write at a time.
 * A full queue drops new items and a failed write loses its batch: the caller's work (an LLM
 * call, a login) must not fail or slow down because its record could not be stored. Used by
 * the gateway's usage records and the security audit log.
 */
export class BatchedWriter<T, I = T> {
  private queue: T[] = [];
  private scheduled: { cancel(): void } | undefined;
  private writing: Promise<void> | undefined;
  private droppedInBurst = 0;
  private droppedTotal = 0;
  private failedTotal = 0;
  private readonly batchSize: number;
  private readonly delayMs: number;

  constructor(private readonly options: BatchedWriterOptions<T, I>) {
    this.batchSize = options.batchSize ?? 200;
    this.delayMs = options.delayMs ?? 0;
  }

  /** Items dropped since start because the queue was full. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Items lost since start because their batch failed to write. */
  get failed(): number {
    return this.failedTotal;
  }

  /** Queues the input's item; false when the queue was full and the input was dropped. */
  push(input: I): boolean {
    if (this.queue.length >= this.options.maxQueued) {
      this.droppedTotal += 1;
      this.droppedInBurst += 1;
      if (this.droppedInBurst === 1) this.options.onDropStart?.(input);
      return false;
    }
    this.queue.push(this.options.toItem ? this.options.toItem(input) : (input as unknown as T));
    this.schedule();
    return true;
  }

  /** Resolves once every item queued before the call has been written (or lost). */
  async flush(): Promise<void> {
    this.scheduled?.cancel();
    this.scheduled = undefined;
    await this.startWriting();
  }

  private schedule(): void {
    if (this.writing) return;
    if (this.delayMs > 0 && this.queue.length >= this.batchSize) {
      this.scheduled?.cancel();
      this.scheduled = undefined;
      void this.startWriting();
      return;
    }
    if (this.scheduled) return;
    const run = () => {
      this.scheduled = undefined;
      void this.startWriting();
    };
    if (this.delayMs === 0) {
      const immediate = setImmediate(run);
      this.scheduled = { cancel: () => clearImmediate(immediate) };
    } else {
      const timer = setTimeout(run, this.delayMs);
      // Shutdown flushes the queue itself; a pending batch must not hold the process open.
      timer.unref();
      this.scheduled = { cancel: () => clearTimeout(timer) };
    }
  }

  private startWriting(): Promise<void> {
    if (this.writing) return this.writing;
    // The loop below clears `writing` itself; it must not run synchronously to the end.
    if (this.queue.length === 0) return Promise.resolve();
    this.writing = this.writeQueue();
    return this.writing;
  }

  private async writeQueue(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.batchSize);
        try {
          await this.options.write(batch);
        } catch (error) {
          this.failedTotal += batch.length;
          this.options.onWriteFailed?.(batch, error);
        }
        if (this.droppedInBurst > 0 && this.queue.length < this.options.maxQueued) {
          this.options.onDropEnd?.(this.droppedInBurst);
          this.droppedInBurst = 0;
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}
