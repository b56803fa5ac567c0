/**
 * Typed pool handles: `pool.bind<typeof import("./cpu.ts")>()` is an object whose methods are the
 * module's function exports, each taking the handler's argument (its first parameter) and an
 * optional `{ signal }`, and returning a promise of its result: `run(name, arg, options)` with
 * the handler's name and types checked by TypeScript. `ctx` is never part of the caller's side.
 * No handler module is loaded here: the methods are the pool's handler names, and a name the pool
 * does not have rejects like run() does (HandlerNotFoundError).
 */
import type { ParallelForOptions } from "./pool-client.ts";
import type { RunOptions } from "./run-options.ts";

type Fn = (...args: any[]) => any;

/** What a caller passes for handler `F`: its first parameter (a handler without one: nothing). */
export type HandlerArg<F extends Fn> = Parameters<F> extends [] ? undefined : Parameters<F>[0];

/** A handler as the caller sees it. */
export type PoolFunction<F extends Fn> = undefined extends HandlerArg<F>
  ? (arg?: HandlerArg<F>, options?: RunOptions) => Promise<Awaited<ReturnType<F>>>
  : (arg: HandlerArg<F>, options?: RunOptions) => Promise<Awaited<ReturnType<F>>>;

/** One export of a handler module as the runtime plugin gives it (a non-function export: never). */
export type PoolExport<T> = T extends Fn ? PoolFunction<T> : never;

/** The function exports of module type `M`, as pool-backed async functions. */
export type PoolHandle<M> = {
  readonly [K in keyof M as K extends string ? (M[K] extends Fn ? K : never) : never]: M[K] extends Fn ? PoolFunction<M[K]> : never;
};

/** parallelFor kernels: exports shaped `(start: number, end: number, arg?, ctx?)`. */
type Kernel = (start: number, end: number, ...rest: any[]) => any;
export type KernelArg<F extends Kernel> = Parameters<F> extends [number, number, infer A, ...any[]] ? A : undefined;

/** A kernel as the caller sees it: parallelFor over [start, end); numeric kernel results are summed. */
export type KernelFunction<F extends Kernel> = (
  ...args: undefined extends KernelArg<F>
    ? [start: number, end: number, options?: Omit<ParallelForOptions, "arg"> & { arg?: KernelArg<F> }]
    : [start: number, end: number, options: Omit<ParallelForOptions, "arg"> & { arg: KernelArg<F> }]
) => Promise<Awaited<ReturnType<F>> extends number ? number : undefined>;

export type KernelHandle<M> = {
  readonly [K in keyof M as K extends string ? (M[K] extends Kernel ? K : never) : never]: M[K] extends Kernel ? KernelFunction<M[K]> : never;
};

/** Names the fallback must not turn into handler calls: a thenable handle would never settle when awaited. */
const NOT_HANDLERS = new Set(["then", "toJSON", "inspect", "asymmetricMatch", "$$typeof", ...Object.getOwnPropertyNames(Object.prototype)]);

/**
 * The object behind bind(): one own method per handler the pool has (a plain call, ~0 ns over
 * run(); a Proxy trap cost ~25 ns a call), over a Proxy that turns any other name into a call too,
 * so a name the pool lacks rejects like run() does instead of "is not a function". Object's own
 * names, `then` and `toJSON` are left alone, so a handle can be awaited, printed and serialized.
 */
export function handleOf<H>(names: readonly string[], call: (name: string, ...rest: any[]) => Promise<unknown>): H {
  const others = new Proxy(Object.create(Object.prototype), {
    get: (target, name, receiver) =>
      typeof name === "string" && !NOT_HANDLERS.has(name) ? (...args: any[]) => call(name, ...args) : Reflect.get(target, name, receiver),
  });
  const handle = Object.create(others);
  for (const name of names) handle[name] = (...args: any[]) => call(name, ...args);
  return handle as H;
}
