/**
 * Main thread: a compute pool (rayon-like). Sync handlers; `ctx.join` inside handlers and
 * `parallelFor` from here split work that idle threads steal.
 */
import { ArenaFull } from "../common/codec.ts";
import { HandlerNotFoundError, InvalidArgumentError } from "../errors.ts";
import { KIND_RANGE } from "../shm/layout.ts";
import { TaskPool, type RunOptions, type TaskPoolOptions } from "./task-pool.ts";

export interface ParallelForOptions extends RunOptions {
  /** Ranges of at most this many indices run in one kernel call. Default: about 8 pieces per thread. */
  grain?: number;
  /** Passed to every kernel call; a SharedArrayBuffer or a view on one is shared, not copied. */
  arg?: unknown;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export class ComputePool extends TaskPool {
  static async start(options: Omit<TaskPoolOptions, "kind">): Promise<ComputePool> {
    const pool = new ComputePool({ ...options, kind: "compute" });
    await pool.startThreads();
    return pool;
  }

  /**
   * Calls `kernel(start, end, arg, ctx)` over [start, end) split adaptively: the range is halved
   * until `grain`, each right half left for idle threads to steal. Resolves with the sum of the
   * kernels' numeric results (undefined when they return nothing).
   * @example const total = await pool.parallelFor("sum", 0, data.length, { grain: 4096, arg: data });
   */
  parallelFor<T = number | undefined>(kernel: string, start: number, end: number, options: ParallelForOptions = {}): Promise<T> {
    const h = this.handlers.indexOf(kernel);
    if (h < 0) return Promise.reject(new HandlerNotFoundError(this.name, kernel, [...this.handlers]));
    for (const [key, v] of [["start", start], ["end", end]] as const) {
      if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
        return Promise.reject(new InvalidArgumentError(`parallelFor(${key})`, `must be an int32 integer, got ${v}`));
      }
    }
    if (end < start) return Promise.reject(new InvalidArgumentError("parallelFor(end)", `must not be below start (${start}), got ${end}`));
    const grain = options.grain ?? Math.max(1, Math.ceil((end - start) / (this.threads * 8)));
    if (!Number.isInteger(grain) || grain < 1) {
      return Promise.reject(new InvalidArgumentError("parallelFor options.grain", `must be a positive integer, got ${grain}`));
    }
    const refused = this.refuse(options.signal);
    if (refused) return refused;
    const codec = this.codec;
    try {
      codec.encode(options.arg, "argument", kernel);
      const [type, a, b] = codec.out;
      try {
        codec.encode([start, end, grain, type, a, b], "range of parallelFor kernel", kernel);
      } catch (e) {
        codec.release(type!, a!);
        throw e;
      }
    } catch (e) {
      if (!(e instanceof ArenaFull)) return Promise.reject(e);
      return this.afterArenaFrees(e.bytes, () => this.parallelFor<T>(kernel, start, end, options));
    }
    return this.enqueue(h, KIND_RANGE, kernel, options.signal) as Promise<T>;
  }
}
