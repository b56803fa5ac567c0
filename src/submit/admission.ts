/**
 * A submitting thread (the main thread, or a pool thread's lane): tasks whose argument found no
 * arena room wait here, in FIFO order, until room comes (completions free blocks; on the main
 * thread the store grows by a segment while it is below its cap). They count toward `max_queue`,
 * abort like queued tasks, and `close` settles them. Nothing blocks: the pump calls `afterDrain`
 * after every completion drain (PROTOCOL.md, "Progress", ARENA M2 and L1).
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
    /** A thread's lane with tasks in flight: it admits only after completions, one per completion (ARENA-L1). */
    private readonly heldBack: () => boolean = () => false,
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
   * in flight it does not look: their drains admit (`afterDrain`).
   */
  retrySoon(admitted: () => void): void {
    if (this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.count === 0) return;
      if (!this.heldBack()) {
        this.admit();
        admitted();
      }
      this.retrySoon(admitted);
    }, 1);
  }

  /**
   * After a completion drain that took `took` completions (ARENA M2): all that fit, or for a lane
   * held back one per completion, so a block a running task's argument freed stays for its result.
   */
  afterDrain(took: number): void {
    if (this.count > 0) this.admit(this.heldBack() ? took : Infinity);
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
    if (i === this.head && !this.heldBack()) this.admit(); // the next one may fit
  }

  private unwatch(task: WaitingTask): void {
    if (task.onAbort) task.signal?.removeEventListener("abort", task.onAbort);
  }
}
