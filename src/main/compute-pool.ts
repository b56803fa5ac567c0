/**
 * Main thread: a compute pool (rayon-like). Sync handlers; `ctx.join` inside handlers and
 * `parallelFor` from here split work that idle threads steal.
 */
import type { KernelHandle } from "../submit/pool-handle.ts";
import type { ParallelForOptions } from "../submit/pool-client.ts";
import { startAlone } from "./pool-directory-hub.ts";
import { TaskPool, type TaskPoolOptions } from "./task-pool.ts";

export type { ParallelForOptions };

export class ComputePool extends TaskPool {
  /** The pool's shared memory; its threads start with startThreads() (ThreadManager starts pools that way). */
  static create(options: Omit<TaskPoolOptions, "kind">): ComputePool {
    return new ComputePool({ ...options, kind: "compute" });
  }

  /** A pool on its own (no manager): its threads can call it through `ctx.pools`. */
  static async start(options: Omit<TaskPoolOptions, "kind">): Promise<ComputePool> {
    const pool = ComputePool.create(options);
    await startAlone(pool);
    return pool;
  }

  /**
   * Calls `kernel(start, end, arg, ctx)` over [start, end) split adaptively: the range is halved
   * until `grain`, each right half left for idle threads to steal. Resolves with the sum of the
   * kernels' numeric results (undefined when they return nothing).
   * @example const total = await pool.parallelFor("sum", 0, data.length, { grain: 4096, arg: data });
   */
  parallelFor<T = number | undefined>(kernel: string, start: number, end: number, options?: ParallelForOptions): Promise<T> {
    return this.client.parallelFor<T>(kernel, start, end, options);
  }

  /**
   * parallelFor kernels, typed: the module's `(start, end, arg, ctx)` exports as methods.
   * @example const k = tm.compute("cpu").kernels<typeof import("./cpu.ts")>(); await k.sum(0, n, { arg: data });
   */
  kernels<M>(): KernelHandle<M> {
    return this.client.kernels<M>();
  }
}
