/** Main thread: an async pool (tokio-like). Async handlers, up to `concurrency` in flight per thread. */
import type { AbortNotice } from "../common/pool-setup.ts";
import { TaskPool, type TaskPoolOptions } from "./task-pool.ts";

export class AsyncPool extends TaskPool {
  readonly concurrency: number;

  private constructor(options: TaskPoolOptions) {
    super(options);
    this.concurrency = options.concurrency ?? 1;
  }

  static async start(options: Omit<TaskPoolOptions, "kind">): Promise<AsyncPool> {
    const pool = new AsyncPool({ ...options, kind: "async" });
    await pool.startThreads();
    return pool;
  }

  /** The thread's event loop is alive: tell it, and it fires the task's ctx.signal. */
  override abortRunning(runner: number, id: number): void {
    const msg: AbortNotice = { type: "abort", id };
    this.workers.seats[runner]?.worker.postMessage(msg);
  }
}
