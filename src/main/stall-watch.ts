/**
 * Main thread: an async pool that stops moving says so. A call cycle (pool A's handler awaits pool
 * B, whose handler awaits A) that fills every thread's `concurrency` waits for good: each waits for
 * a task that cannot start. Nothing in shared memory can tell such a wait from slow handlers, so
 * this watch reports the symptom: every thread full, tasks waiting, and none finished for
 * STALL_MS. It warns once per stall (and counts it in metrics().stalls); `task_timeout_ms` or a
 * close breaks the cycle.
 */
import type { PoolControl } from "../common/pool-control.ts";
import { WORKER_FINISHED, WORKER_RUNNING } from "../shm/layout.ts";
import type { PoolQueues } from "../shm/pool-queues.ts";

const LOOK_MS = 1000;

export class StallWatch {
  /** Stalls seen (metrics). */
  stalls = 0;
  private finished = -1;
  private since = 0;
  private warned = false;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly pool: string,
    private readonly control: PoolControl,
    private readonly queues: PoolQueues,
    /** Tasks in flight per thread at most. */
    private readonly concurrency: number,
    /** Seats with a live thread now. */
    private readonly liveSeats: () => number[],
    private readonly stallMs = 5000,
  ) {
    this.timer = setInterval(() => this.look(), Math.min(LOOK_MS, stallMs / 2));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private look(): void {
    const w = this.control.w;
    const seats = this.liveSeats();
    let finished = 0;
    let full = seats.length > 0;
    for (const i of seats) {
      finished += Atomics.load(w, this.control.workerWord(i, WORKER_FINISHED));
      full &&= Atomics.load(w, this.control.workerWord(i, WORKER_RUNNING)) >= this.concurrency;
    }
    const waiting = this.queues.pending();
    const now = performance.now();
    if (!full || waiting === 0 || finished !== this.finished) {
      this.finished = finished;
      this.since = now;
      this.warned = false;
      return;
    }
    if (this.warned || now - this.since < this.stallMs) return;
    this.warned = true;
    this.stalls++;
    console.warn(
      `bun-thread-manager: pool "${this.pool}": every thread has ${this.concurrency} task(s) in flight (concurrency), ${waiting} wait, and none finished for ${Math.round((now - this.since) / 1000)} s. ` +
        `If its handlers await pools whose handlers await "${this.pool}" back (a call cycle), they wait for each other for good: break the cycle, raise concurrency, or set task_timeout_ms (counted in metrics().stalls)`,
    );
  }
}
