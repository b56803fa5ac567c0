/** What a handler receives as its last argument. */
import type { ThreadPools } from "../submit/thread-pools.ts";

/** The context a handler gets: where it runs, cancellation, and (compute pools) fork-join. */
type Fn = (...args: any[]) => any;
type HandlerNames<M> = { [K in keyof M]: K extends string ? (M[K] extends Fn ? K : never) : never }[keyof M];
type ArgOf<F> = F extends Fn ? (Parameters<F> extends [] ? undefined : Parameters<F>[0]) : never;
type ResultOf<F> = F extends Fn ? ReturnType<F> : never;

/** rayon's join over the handlers of module type `M` (checked names, arguments and results). */
export interface TypedJoin<M> {
  <A extends HandlerNames<M>, B extends HandlerNames<M>>(a: JoinCall<M, A>, b: JoinCall<M, B>): [ResultOf<M[A]>, ResultOf<M[B]>];
}

/** [name, arg]; [name] alone for a handler whose argument may be left out. */
type JoinCall<M, K extends keyof M> = undefined extends ArgOf<M[K]> ? [K, ArgOf<M[K]>?] : [K, ArgOf<M[K]>];

/** join with any handler name (TaskContext without a module type). */
export interface UntypedJoin {
  <A = unknown, B = unknown>(a: [string, unknown], b: [string, unknown]): [A, B];
}

/**
 * What a handler gets as its last parameter. `TaskContext<typeof import("./cpu.ts")>` types
 * `ctx.join` by the module's handlers (names, arguments, results); plain `TaskContext` does not.
 */
export interface TaskContext<M = any> {
  /** The pool's name. */
  readonly pool: string;
  /** This thread's index in its pool (0-based). */
  readonly threadIndex: number;
  /** This thread's kernel thread id (as in /proc/self/task), 0 where unknown. */
  readonly tid: number;
  /**
   * Aborted when the caller's AbortSignal aborts. Async handlers get an event; a sync compute
   * handler can poll `ctx.signal.aborted` (it is checked against shared memory on each read).
   */
  readonly signal: AbortSignal;
  /**
   * Compute pools: runs `[handler, arg]` a and b, b possibly on another thread, and returns both
   * results (rayon's join). Nests to any depth; past the pool's join depth it runs both inline.
   * @example const [x, y] = ctx.join(["fib", n - 1], ["fib", n - 2]);
   */
  readonly join: unknown extends M ? UntypedJoin : TypedJoin<M>;
  /**
   * Every pool of the manager, from this thread: `ctx.pools.compute("cpu").run("fib", 30)`, with the
   * same lookups, options and errors as on the main thread. Async handlers await the calls; a compute
   * handler is synchronous and cannot wait for another pool, so there it throws and says so.
   * @example const h = await ctx.pools.compute("cpu").run("sha256", body);
   */
  readonly pools: ThreadPools;
}

const NEVER = new AbortController().signal;

/**
 * A signal made only when a handler looks at it: most handlers never do, and an AbortController
 * per task is measurable at a million tasks a second.
 */
export class LazySignal {
  private id = -1;
  private controller: AbortController | undefined;

  constructor(private readonly aborted: (id: number) => boolean) {}

  /** Starts a task's signal; returns the state to give back to `end` (tasks nest while a join waits). */
  begin(id: number): [number, AbortController | undefined] {
    const saved: [number, AbortController | undefined] = [this.id, this.controller];
    this.id = id;
    this.controller = undefined;
    return saved;
  }

  /** The task whose signal this is now (-1: none). */
  get task(): number {
    return this.id;
  }

  end(saved: [number, AbortController | undefined]): void {
    [this.id, this.controller] = saved;
  }

  get(): AbortSignal {
    if (this.id < 0) return NEVER;
    this.controller ??= new AbortController();
    if (!this.controller.signal.aborted && this.aborted(this.id)) this.abort();
    return this.controller.signal;
  }

  abort(reason?: unknown): void {
    this.controller ??= new AbortController();
    this.controller.abort(reason ?? new DOMException("The task was aborted by its caller", "AbortError"));
  }
}
