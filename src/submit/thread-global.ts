/**
 * The calling thread's ThreadPools, for what cannot be handed one (the `pool:` runtime plugin
 * resolving an import inside a pool thread or native thread). Undefined on the main thread.
 */
import type { ThreadPools } from "./thread-pools.ts";

const KEY = Symbol.for("bun-thread-manager.thread-pools");
type Holder = { [KEY]?: ThreadPools };

export function setThreadPools(pools: ThreadPools): void {
  (globalThis as Holder)[KEY] = pools;
}

export function threadPools(): ThreadPools | undefined {
  return (globalThis as Holder)[KEY];
}
