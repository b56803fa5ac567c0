/** The process-wide manager the preload starts; `manager()` hands it to user code. */
import { ThreadManagerError } from "../errors.ts";
import type { ThreadManager } from "./thread-manager.ts";

// A global symbol, so a preload loaded by path and user code loaded by package name share it.
const KEY = Symbol.for("bun-thread-manager.manager");
type Holder = { [KEY]?: ThreadManager };

export function setManager(tm: ThreadManager | undefined): void {
  (globalThis as Holder)[KEY] = tm;
}

/**
 * The manager started by the preload (`preload = ["bun-thread-manager/preload"]` in bunfig.toml).
 * @example const tm = manager(); await tm.compute("cpu").run("add", [1, 2]);
 */
export function manager(): ThreadManager {
  const tm = (globalThis as Holder)[KEY];
  if (!tm) {
    throw new ThreadManagerError(
      "ERR_NO_MANAGER",
      'no thread manager was started: add preload = ["bun-thread-manager/preload"] to bunfig.toml (with ./threads.toml or $THREAD_MANAGER_CONFIG), or call ThreadManager.start',
    );
  }
  return tm;
}
