/**
 * What a caller holds of one pool, on any thread: `run`, `bind`, and for compute pools
 * `parallelFor` and `kernels`, over that thread's Submitter for the pool. The main thread's
 * ComputePool and AsyncPool hand these calls to their client; a pool thread gets clients from
 * `ctx.pools` (src/submit/thread-pools.ts). Same arguments, same errors everywhere.
 */
import type { ValueCodec } from "../common/codec.ts";
import { HandlerNotFoundError, InvalidArgumentError, describeValue } from "../errors.ts";
import { KIND_RANGE, KIND_TASK } from "../shm/layout.ts";
import { handleOf, type KernelHandle, type PoolHandle } from "./pool-handle.ts";
import { encodeTransferred, transferNotTaken, type RunOptions } from "./run-options.ts";
import type { Submitter } from "./submitter.ts";
import { TaskBatch, type MapOptions, type Settled } from "./task-batch.ts";

export interface ParallelForOptions extends Omit<RunOptions, "transfer"> {
  /** Ranges of at most this many indices run in one kernel call. Default: about 8 pieces per thread. */
  grain?: number;
  /** Passed to every kernel call; a SharedArrayBuffer or a view on one is shared, not copied. */
  arg?: unknown;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export class PoolClient {
  private ids = new Map<string, number>();
  private known: readonly string[] = [];

  constructor(
    /** This thread's submitter for the pool (a thread's client takes its lane on first use). */
    protected sub: Submitter,
    /** The pool's threads at most (parallelFor's default grain). */
    private readonly threads: number,
    /** The pool runs sync handlers (compute): map() sends its items in chunks (src/submit/task-chunk.ts). */
    private readonly chunked = false,
  ) {}

  get submitter(): Submitter {
    return this.sub;
  }

  get name(): string {
    return this.sub.name;
  }

  /** Handler names the pool's module exports (empty until its first thread has loaded it). */
  get handlers(): readonly string[] {
    return this.known;
  }

  /** The pool's first thread said which handlers its module exports. */
  learnHandlers(names: readonly string[]): void {
    this.known = names;
    this.ids = new Map(names.map((n, i) => [n, i]));
  }

  /**
   * Runs `handler(arg, ctx)` on a pool thread.
   * @example const sum = await pool.run("add", [1, 2]);
   */
  run<T = unknown>(handler: string, arg?: unknown, options?: RunOptions): Promise<T> {
    const h = this.ids.get(handler);
    if (h === undefined) return Promise.reject(this.notFound(handler));
    const transfer = options?.transfer;
    const encode = Array.isArray(transfer) ? encodeTransferred(transfer) : encodeArgument; // a bad list is refused by submit
    return this.sub.submit(handler, h, KIND_TASK, options, arg, encode) as Promise<T>;
  }

  /**
   * Runs `handler(arg, ctx)` for every item of `args` under one promise: the results in order.
   * The first error rejects it and cancels the items not yet done; `{ settle: true }` keeps every
   * outcome instead. Cheaper per task than one run() each; a batch larger than max_queue runs too.
   * @example const hashes = await pool.map("sha256", bodies);
   */
  map<T = unknown>(handler: string, args: Iterable<unknown>, options?: MapOptions & { settle?: false }): Promise<T[]>;
  map<T = unknown>(handler: string, args: Iterable<unknown>, options: MapOptions & { settle: true }): Promise<Settled<T>[]>;
  map<T = unknown>(handler: string, args: Iterable<unknown>, options?: MapOptions): Promise<T[] | Settled<T>[]>;
  map(handler: string, args: Iterable<unknown>, options?: MapOptions): Promise<unknown[]> {
    const h = this.ids.get(handler);
    if (h === undefined) return Promise.reject(this.notFound(handler));
    // The list is read now (a copy: the caller may change or shorten its array); each item is read when its task is queued.
    const list = Array.isArray(args) || (ArrayBuffer.isView(args) && !(args instanceof DataView)) ? (args as unknown[]).slice() : iterableToArray(args);
    if (list === undefined) {
      return Promise.reject(new InvalidArgumentError("map(args)", `of handler "${handler}" must be an array or another iterable of arguments (a string is refused, not split into characters), got ${describeValue(args)}`));
    }
    if ((options as RunOptions | undefined)?.transfer !== undefined) return Promise.reject(transferNotTaken("map", handler));
    const refused = this.sub.refusal(handler, options);
    if (refused !== undefined) return Promise.reject(refused.reason);
    return new TaskBatch(this.sub, handler, h, KIND_TASK, list, encodeArgument, options?.settle === true, options?.signal, this.chunked ? this.threads : 0).start();
  }

  /**
   * A typed handle: the module's function exports as methods that call run().
   * @example const cpu = tm.compute("cpu").bind<typeof import("./cpu.ts")>(); await cpu.fib(30, { signal });
   */
  bind<M>(): PoolHandle<M> {
    return handleOf<PoolHandle<M>>(this.known, (name, arg, options) => this.run(name, arg, options));
  }

  /**
   * Calls `kernel(start, end, arg, ctx)` over [start, end) split adaptively: the range is halved
   * until `grain`, each right half left for idle threads to steal. Resolves with the sum of the
   * kernels' numeric results (undefined when they return nothing).
   * @example const total = await pool.parallelFor("sum", 0, data.length, { grain: 4096, arg: data });
   */
  parallelFor<T = number | undefined>(kernel: string, start: number, end: number, options: ParallelForOptions = {}): Promise<T> {
    const h = this.ids.get(kernel);
    if (h === undefined) return Promise.reject(this.notFound(kernel));
    for (const [key, v] of [["start", start], ["end", end]] as const) {
      if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
        return Promise.reject(new InvalidArgumentError(`parallelFor(${key})`, `must be an int32 integer, got ${v}`));
      }
    }
    if (end < start) return Promise.reject(new InvalidArgumentError("parallelFor(end)", `must not be below start (${start}), got ${end}`));
    if (options === null || typeof options !== "object") {
      return Promise.reject(new InvalidArgumentError("parallelFor(options)", `must be an object, got ${options === null ? "null" : typeof options}`));
    }
    if ((options as RunOptions).transfer !== undefined) return Promise.reject(transferNotTaken("parallelFor", kernel));
    const grain = options.grain ?? Math.max(1, Math.ceil((end - start) / (this.threads * 8)));
    if (!Number.isInteger(grain) || grain < 1) {
      return Promise.reject(new InvalidArgumentError("parallelFor options.grain", `must be a positive integer, got ${grain}`));
    }
    return this.sub.submit(kernel, h, KIND_RANGE, options, { start, end, grain, arg: options.arg }, encodeRange) as Promise<T>;
  }

  /**
   * parallelFor kernels, typed: the module's `(start, end, arg, ctx)` exports as methods.
   * @example const k = tm.compute("cpu").kernels<typeof import("./cpu.ts")>(); await k.sum(0, n, { arg: data });
   */
  kernels<M>(): KernelHandle<M> {
    return handleOf<KernelHandle<M>>(this.known, (name, start, end, options) => this.parallelFor(name, start, end, options));
  }

  private notFound(handler: unknown): Error {
    if (typeof handler !== "string") return new InvalidArgumentError("handler", `must be a handler name (a string), got ${describeValue(handler)}`);
    return new HandlerNotFoundError(this.name, handler, [...this.known]);
  }
}

function iterableToArray(v: unknown): unknown[] | undefined {
  if (v === null || v === undefined || typeof (v as Iterable<unknown>)[Symbol.iterator] !== "function" || typeof v === "string") return undefined;
  return Array.from(v as Iterable<unknown>);
}

function encodeArgument(codec: ValueCodec, arg: unknown, handler: string): number {
  return codec.encode(arg, "argument", handler);
}

interface RangeTask {
  start: number;
  end: number;
  grain: number;
  arg: unknown;
}

/** The range task's argument: [start, end, grain, arg's type, a, b], the kernels' argument encoded once beside it. */
function encodeRange(codec: ValueCodec, { start, end, grain, arg }: RangeTask, kernel: string): number {
  const needed = codec.encodeForAll(arg, "argument", kernel);
  if (needed !== 0) return needed;
  const [type, a, b] = codec.out as unknown as [number, number, number];
  const held = { bytes: codec.arenaBytes, transients: codec.transients.slice(), named: codec.named.slice() };
  const undo = () => {
    codec.release(type, a);
    for (const id of held.transients) codec.shared.release(id);
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
}
