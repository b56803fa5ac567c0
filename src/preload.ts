/**
 * bunfig.toml: preload = ["bun-thread-manager/preload"]
 * Starts the manager from $THREAD_MANAGER_CONFIG, or ./threads.toml if that exists, before user
 * code runs; user code gets it with `manager()`. A config error stops the process here, with the
 * key path in the message.
 */
import { existsSync } from "node:fs";
import { ConfigError } from "./errors.ts";
import { setManager } from "./main/global-manager.ts";
import { ThreadManager } from "./main/thread-manager.ts";

const fromEnv = process.env.THREAD_MANAGER_CONFIG;
const path = fromEnv || "./threads.toml";
if (fromEnv && !existsSync(fromEnv)) {
  throw new ConfigError("(THREAD_MANAGER_CONFIG)", `file not found: ${fromEnv}`);
}
if (existsSync(path)) setManager(await ThreadManager.fromFile(path));
