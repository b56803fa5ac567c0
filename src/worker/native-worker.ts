/**
 * Entry script of a native-pool thread (like std::thread): places itself as its pool says, then
 * runs the module it was given: `export default function (data, ctx)`. The thread ends when that
 * function returns (or its promise settles): exit code 0, or 1 if it threw.
 */
import { gettid } from "../platform/libc.ts";
import { placeSelf, type ThreadPlacement } from "../platform/placement.ts";
import type { PoolDirectory, SubmitterIdentity } from "../submit/pool-directory.ts";
import { ThreadPools } from "../submit/thread-pools.ts";
import { setThreadPools } from "../submit/thread-global.ts";
import { registerPoolPlugin } from "../plugin.ts";
import { importModule } from "./module-load.ts";

declare const self: Worker;

export interface NativeSetup {
  placement: ThreadPlacement;
  module: string;
  data: unknown;
  /** Every pool of the manager, for ctx.pools. */
  directory: PoolDirectory;
  identity: SubmitterIdentity;
}

/** What a native thread's default export receives after its data. */
export interface NativeContext {
  pool: string;
  name: string;
  tid: number;
  /** Every pool of the manager, from this thread: `await ctx.pools.compute("cpu").run("fib", 30)`. */
  pools: ThreadPools;
}

self.onmessage = async (event: MessageEvent<NativeSetup>) => {
  self.onmessage = null;
  const { placement, module, data, directory, identity } = event.data;
  const refused = placeSelf(placement);
  if (refused) {
    self.postMessage({ type: "failed", placement: refused });
    process.exit(1);
  }
  const tid = gettid();
  self.postMessage({ type: "started", tid });
  const pools = new ThreadPools(directory, identity);
  setThreadPools(pools);
  registerPoolPlugin(); // preloads are not inherited by Workers
  let code = 0;
  try {
    const mod = await importModule(module);
    if (typeof mod.default !== "function") {
      throw new TypeError(`native thread module ${module} must export a default function (data, ctx)`);
    }
    const ctx: NativeContext = { pool: placement.pool, name: placement.name, tid, pools };
    await mod.default(data, ctx);
  } catch (e) {
    self.postMessage({ type: "error", error: String((e as Error)?.stack ?? e) });
    code = 1;
  }
  process.exit(code);
};
