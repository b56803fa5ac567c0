/**
 * Main thread: tasks whose argument found no arena room wait here, in FIFO order, until room comes
 * (completions free blocks; the store grows by a segment while it is below its cap). They count
 * toward `max_queue`, abort like queued tasks, and `close` settles them. Nothing blocks: the pump
 * calls `admit()` after every completion drain (PROTOCOL.md, "Progress").
 */
import type { Settle } from "./task-table.ts";

export interface WaitingTask {
  readonly handler: string;
  readonly signal: AbortSignal | undefined;
  readonly settle: Settle;
  /** Encodes the argument into the pool's codec: 0, or the bytes it still needs. */
  encode(): number;
  /** Queues the encoded task (the codec's `out` holds its argument). */
  enqueue(): void;
  /** Rejects it with `reason`, counted as cancelled (it counted as submitted when it began to wait). */
  cancel(reason: unknown): void;
  onAbort?: () => void;
}

export class Admission {
  private queue: Array<WaitingTask | undefined> = [];
  private head = 0;
  private count = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** Adds an arena segment if the store may still grow; true when it did. */
    private readonly grow: () => boolean,
  ) {}

  /** Tasks waiting for room. */
  get waiting(): number {
    return this.count;
  }

  /**
   * Queues a task: one that just found no room (`alone`: nothing else waits), or one that must wait
   * behind those already waiting (FIFO). It is admitted in order, after completions drain.
   */
  wait(task: WaitingTask, alone: boolean): void {
    this.queue.push(task);
    this.count++;
    if (task.signal) {
      task.onAbort = () => this.drop(task, task.signal!.reason);
      task.signal.addEventListener("abort", task.onAbort, { once: true });
    }
    // It found no room just now: only a new segment changes that before the next drain.
    if (alone && this.grow()) this.admit();
  }

  /**
   * A thread submitter with nothing in flight has no drain to admit its waiting tasks after: room
   * comes from other submitters' tasks, so it looks again every millisecond while tasks wait
   * (`admitted`: called after each look, to publish what it let in). While some of its tasks are
   * in flight it does not look (ARENA-L1): their drains admit (ARENA M2), so a block that a running
   * task's argument frees is there for that task's result, which has no way around the arena.
   */
  retrySoon(admitted: () => void, inFlight: () => boolean): void {
    if (this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.count === 0) return;
      if (!inFlight()) {
        this.admit();
        admitted();
      }
      this.retrySoon(admitted, inFlight);
    }, 1);
  }

  /** Admits waiting tasks from the head while they find room (at most `limit`); grows the store when the head cannot. */
  admit(limit = Infinity): void {
    for (let admitted = 0; this.count > 0 && admitted < limit; ) {
      const task = this.queue[this.head];
      if (task === undefined) {
        this.head++;
        continue;
      }
      if (task.settle.dropped?.()) {
        this.remove();
        this.unwatch(task);
        task.cancel(undefined); // its batch ended: it never runs
        continue;
      }
      let needed: number;
      try {
        needed = task.encode();
      } catch (e) {
        this.remove();
        this.unwatch(task);
        task.settle.reject(e); // this argument can never be sent (e.g. too large): it alone fails
        continue;
      }
      if (needed !== 0) {
        if (this.grow()) continue; // ARENA-M3
        return;
      }
      this.remove();
      this.unwatch(task);
      task.enqueue();
      admitted++;
    }
    if (this.count > 0) return;
    this.queue = [];
    this.head = 0;
  }

  /** Rejects every waiting task (close with drain: false, or a timed-out close). */
  rejectAll(reason: () => unknown): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const task = this.queue[i];
      if (!task) continue;
      this.unwatch(task);
      task.settle.reject(reason());
    }
    this.queue = [];
    this.head = 0;
    this.count = 0;
  }

  private remove(): void {
    this.queue[this.head++] = undefined;
    this.count--;
  }

  private drop(task: WaitingTask, reason: unknown): void {
    const i = this.queue.indexOf(task, this.head);
    if (i < 0) return;
    this.queue[i] = undefined;
    this.count--;
    task.cancel(reason);
    if (i === this.head) this.admit(); // the next one may fit
  }

  private unwatch(task: WaitingTask): void {
    if (task.onAbort) task.signal?.removeEventListener("abort", task.onAbort);
  }
}
