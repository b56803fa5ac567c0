/** Main thread: an async pool (tokio-like). Async handlers, up to `concurrency` in flight per thread. */
import type { AbortNotice } from "../common/pool-setup.ts";
import { TaskPool, type TaskPoolOptions } from "./task-pool.ts";
import type { ServingAt } from "../worker/pool-server.ts";

/** `port = 0`: one free port for all the pool's threads (each binding port 0 would get its own). */
function freePort(): number {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

export class AsyncPool extends TaskPool {
  readonly concurrency: number;

  private constructor(options: TaskPoolOptions) {
    super(options);
    this.concurrency = options.concurrency ?? 1;
  }

  static async start(options: Omit<TaskPoolOptions, "kind">): Promise<AsyncPool> {
    const serve = options.serve && options.serve.port === 0 ? { ...options.serve, port: freePort() } : options.serve;
    const pool = new AsyncPool({ ...options, serve, kind: "async" });
    await pool.startThreads();
    return pool;
  }

  /** Where the pool's servers listen (async pools with `serve`), as the first live thread reports it. */
  get server(): ServingAt | undefined {
    return this.workers.live().find((t) => t.serving)?.serving;
  }

  /** The thread's event loop is alive: tell it, and it fires the task's ctx.signal. */
  override abortRunning(runner: number, id: number): void {
    const msg: AbortNotice = { type: "abort", id };
    this.workers.seats[runner]?.worker.postMessage(msg);
  }
}
