/** Main thread: an async pool (tokio-like). Async handlers, up to `concurrency` in flight per thread. */
import type { AbortNotice } from "../common/pool-setup.ts";
import { ID_GEN_SHIFT } from "../shm/layout.ts";
import { startAlone } from "./pool-directory-hub.ts";
import { StallWatch } from "./stall-watch.ts";
import { TaskPool, type TaskPoolOptions } from "./task-pool.ts";
import type { ServingAt } from "../worker/pool-server.ts";

export class AsyncPool extends TaskPool {
  readonly concurrency: number;

  /** Says so when every thread is full and nothing finishes (a call cycle). */
  readonly stallWatch: StallWatch;

  private constructor(options: TaskPoolOptions & { stallMs?: number }) {
    super(options);
    this.concurrency = options.concurrency ?? 1;
    this.stallWatch = new StallWatch(options.name, this.control, this.queues, this.concurrency, () => this.workers.live().map((t) => t.index), options.stallMs);
  }

  override get stalls(): number {
    return this.stallWatch.stalls;
  }

  override dispose(): void {
    super.dispose();
    this.stallWatch.stop();
  }

  /** The pool's shared memory; its threads start with startThreads() (ThreadManager starts pools that way). */
  static create(options: Omit<TaskPoolOptions, "kind"> & { stallMs?: number }): AsyncPool {
    return new AsyncPool({ ...options, kind: "async" });
  }

  /** A pool on its own (no manager): its threads can call it through `ctx.pools`. */
  static async start(options: Omit<TaskPoolOptions, "kind"> & { stallMs?: number }): Promise<AsyncPool> {
    const pool = AsyncPool.create(options);
    await startAlone(pool);
    return pool;
  }

  /** Where the pool's servers listen (async pools with `serve`), as the first live thread reports it. */
  get server(): ServingAt | undefined {
    return this.workers.live().find((t) => t.serving)?.serving;
  }

  /** The thread's event loop is alive: tell it, and it fires the task's ctx.signal. */
  protected override abortRunning(runner: number, slot: number, gen: number): void {
    const msg: AbortNotice = { type: "abort", id: slot | (gen << ID_GEN_SHIFT) };
    this.workers.seats[runner]?.worker.postMessage(msg);
  }
}
