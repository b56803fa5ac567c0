/**
 * Main thread: a compute pool (rayon-like). Sync handlers; `ctx.join` inside handlers and
 * `parallelFor` from here split work that idle threads steal.
 */
import { HandlerNotFoundError, InvalidArgumentError } from "../errors.ts";
import { KIND_RANGE } from "../shm/layout.ts";
import { TaskPool, type RunOptions, type TaskPoolOptions } from "./task-pool.ts";
import { handleOf, type KernelHandle } from "./pool-handle.ts";

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
    return this.submit(kernel, h, KIND_RANGE, options, { start, end, grain, arg: options.arg }, this.encodeRange) as Promise<T>;
  }

  /**
   * parallelFor kernels, typed: the module's `(start, end, arg, ctx)` exports as methods.
   * @example const k = tm.compute("cpu").kernels<typeof import("./cpu.ts")>(); await k.sum(0, n, { arg: data });
   */
  kernels<M>(): KernelHandle<M> {
    return handleOf<KernelHandle<M>>(this.handlers, (name, start, end, options) => this.parallelFor(name, start, end, options));
  }

  /** The range task's argument: [start, end, grain, arg's type, a, b], the kernels' argument encoded once beside it. */
  private readonly encodeRange = ({ start, end, grain, arg }: RangeTask, kernel: string): number => {
    const codec = this.codec;
    const needed = codec.encode(arg, "argument", kernel);
    if (needed !== 0) return needed;
    const [type, a, b] = codec.out as unknown as [number, number, number];
    const held = { bytes: codec.arenaBytes, transients: codec.transients.slice(), named: codec.named.slice() };
    const undo = () => {
      codec.release(type, a);
      for (const id of held.transients) this.shared.release(id);
    };
    let more: number;
    try {
      more = codec.encode([start, end, grain, type, a, b], "range of parallelFor kernel", kernel);
    } catch (e) {
      undo();
      throw e;
    }
    if (more !== 0) {
      undo();
      return more;
    }
    codec.arenaBytes += held.bytes;
    codec.transients.push(...held.transients);
    codec.named.push(...held.named);
    return 0;
  };
}

interface RangeTask {
  start: number;
  end: number;
  grain: number;
  arg: unknown;
}
