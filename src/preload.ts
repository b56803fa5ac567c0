/**
 * bunfig.toml: preload = ["bun-thread-manager/preload"]   (and, for `bun test`, the same under [test])
 * Starts the manager from $THREAD_MANAGER_CONFIG, or ./threads.toml if that exists, before user
 * code runs; user code gets it with `manager()`. A config error stops the process here, with the
 * key path in the message. The CLI (`bunx bun-thread-manager ...`) starts nothing: the preload stands
 * aside when the CLI is the program being run.
 */
import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ConfigError } from "./errors.ts";
import { notePreload, setManager } from "./main/global-manager.ts";
import { ThreadManager } from "./main/thread-manager.ts";
import { registerPoolPlugin } from "./plugin.ts";

function runningTheCli(): boolean {
  try {
    return realpathSync(Bun.main) === realpathSync(fileURLToPath(new URL("./cli.ts", import.meta.url)));
  } catch {
    return false;
  }
}

if (!runningTheCli()) {
  registerPoolPlugin(); // import { fib } from "pool:cpu" (src/plugin.ts)
  const fromEnv = process.env.THREAD_MANAGER_CONFIG;
  const path = fromEnv || "./threads.toml";
  if (fromEnv && !existsSync(fromEnv)) {
    throw new ConfigError("(THREAD_MANAGER_CONFIG)", `file not found: ${fromEnv}`);
  }
  notePreload(existsSync(path) ? undefined : path);
  if (existsSync(path)) setManager(await ThreadManager.fromFile(path));
}
