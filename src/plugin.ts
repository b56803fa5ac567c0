/**
 * The runtime plugin: `import { fib, hash } from "pool:cpu"` yields pool-backed async functions
 * named after the pool's handlers, each `(arg, { signal }?) => pool.run(name, arg, options)`.
 * The handler module is never loaded on the main thread: the names come from the running pool.
 *
 * Registered by the preload (bunfig.toml: preload = ["bun-thread-manager/preload"]), or by
 * `import "bun-thread-manager/plugin"` in an app that starts its manager itself; then the modules
 * that import "pool:..." must load after ThreadManager.start (e.g. `await import("./app.ts")`),
 * since static imports are evaluated before the importing module's code.
 *
 * Why "pool:NAME" and not `import ... from "./cpu.ts" with { pool: "cpu" }`: Bun 1.4.5 passes a
 * runtime plugin's onResolve only { path, importer }, no import attributes (checked), so the
 * attribute form cannot be told from a plain import (which would run the module on main).
 * Types: `bunx bun-thread-manager types threads.toml > pools.d.ts`.
 */
import { plugin } from "bun";
import { PoolNotFoundError, ThreadManagerError } from "./errors.ts";
import { allClosed, currentManager, manager } from "./main/global-manager.ts";
import type { TaskPool } from "./main/task-pool.ts";
import { threadPools } from "./submit/thread-global.ts";

const REGISTERED = Symbol.for("bun-thread-manager.plugin");

/** The running pool `name` of the current manager; throws saying what is missing. */
function poolNamed(name: string): TaskPool {
  const tm = currentManager();
  if (!tm) {
    let why = "no thread manager is running";
    if (allClosed()) why = "the thread manager was closed (tm.close()) and none is running now";
    else {
      try {
        manager(); // throws the reason: no preload, or the preload found no config
      } catch (e) {
        why = (e as Error).message;
      }
    }
    throw new ThreadManagerError(
      "ERR_NO_MANAGER",
      `import "pool:${name}": ${why}. (Start one before the importing module loads, e.g. ThreadManager.start(...) then await import("./uses-pools.ts").)`,
    );
  }
  const pool: TaskPool | undefined = tm.tryCompute(name) ?? tm.tryAsync(name);
  if (!pool) throw new PoolNotFoundError(name, "compute or async", Object.keys(tm.metrics()));
  return pool;
}

/**
 * The exports of "pool:NAME": one function per handler of the pool as it runs now. Bun caches the
 * module, so each call looks the pool up again when the manager changed (a closed manager and a
 * new one, e.g. test files in one `bun test` process) instead of keeping the first one's pool.
 */
export function poolExports(name: string): Record<string, unknown> {
  const inThread = threadPools();
  if (inThread) {
    // Inside a pool thread or native thread: the pool's calls go through this thread's own lane.
    const client = inThread.forImport(name);
    return Object.fromEntries(client.handlers.map((h) => [h, (arg?: unknown, options?: { signal?: AbortSignal }) => client.run(h, arg, options)]));
  }
  let pool = poolNamed(name);
  let owner = currentManager();
  const current = (): TaskPool => {
    const tm = currentManager();
    if (tm !== owner) {
      pool = poolNamed(name);
      owner = tm;
    }
    return pool;
  };
  const out: Record<string, unknown> = {};
  for (const handler of pool.handlers) {
    out[handler] = (arg?: unknown, options?: { signal?: AbortSignal }) => {
      let p: TaskPool;
      try {
        p = current();
      } catch (e) {
        return Promise.reject(e);
      }
      return p.run(handler, arg, options);
    };
  }
  return out;
}

/** Registers the plugin once per process (the preload and an explicit import may both ask). */
export function registerPoolPlugin(): void {
  const holder = globalThis as { [REGISTERED]?: boolean };
  if (holder[REGISTERED]) return;
  holder[REGISTERED] = true;
  plugin({
    name: "bun-thread-manager",
    setup(build) {
      build.onLoad({ filter: /.*/, namespace: "pool" }, (args) => ({ exports: poolExports(args.path), loader: "object" }));
    },
  });
}

registerPoolPlugin();
