/** The process-wide manager the preload starts; `manager()` hands it to user code. */
import { ThreadManagerError } from "../errors.ts";
import type { ThreadManager } from "./thread-manager.ts";

// A global symbol, so a preload loaded by path and user code loaded by package name share it.
const KEY = Symbol.for("bun-thread-manager.manager");
const PRELOAD = Symbol.for("bun-thread-manager.preload");
const STARTED = Symbol.for("bun-thread-manager.started");
const CLOSED = Symbol.for("bun-thread-manager.closed");
type Holder = { [KEY]?: ThreadManager; [PRELOAD]?: { missing?: string }; [STARTED]?: ThreadManager[]; [CLOSED]?: number };

/** ThreadManager.start and close keep this list: the runtime plugin falls back to the newest open one. */
export function noteStarted(tm: ThreadManager, open: boolean): void {
  const holder = globalThis as Holder;
  const list = (holder[STARTED] ??= []).filter((x) => x !== tm);
  if (open) list.push(tm);
  else holder[CLOSED] = (holder[CLOSED] ?? 0) + 1;
  holder[STARTED] = list;
}

/** The preload's manager, else the newest one started and not closed; undefined if none. */
export function currentManager(): ThreadManager | undefined {
  const holder = globalThis as Holder;
  return holder[KEY] ?? holder[STARTED]?.at(-1);
}

/** Some manager was started and closed, and none is running now (the plugin's error says so). */
export function allClosed(): boolean {
  const holder = globalThis as Holder;
  return holder[KEY] === undefined && (holder[CLOSED] ?? 0) > 0 && !holder[STARTED]?.length;
}

/** The preload ran; `missing`: the config file it looked for and did not find. */
export function notePreload(missing: string | undefined): void {
  (globalThis as Holder)[PRELOAD] = { missing };
}

export function setManager(tm: ThreadManager | undefined): void {
  (globalThis as Holder)[KEY] = tm;
}

/**
 * The manager started by the preload (`preload = ["bun-thread-manager/preload"]` in bunfig.toml).
 * @example const tm = manager(); await tm.compute("cpu").run("add", [1, 2]);
 */
export function manager(): ThreadManager {
  const holder = globalThis as Holder;
  const tm = holder[KEY];
  if (tm) return tm;
  const preload = holder[PRELOAD];
  const why = !preload
    ? 'the preload did not run: add preload = ["bun-thread-manager/preload"] to bunfig.toml (under [test] too, for bun test)'
    : `the preload ran in ${process.cwd()} but found no config: create ${preload.missing ?? "./threads.toml"} there, or set THREAD_MANAGER_CONFIG to a config file`;
  throw new ThreadManagerError("ERR_NO_MANAGER", `no thread manager was started: ${why}; or call ThreadManager.start(config) yourself`);
}
