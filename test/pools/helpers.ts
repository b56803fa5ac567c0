/** Shared pieces of the pool tests. */
import { readdirSync } from "node:fs";
import { ThreadManager, type ThreadManagerConfig } from "../../src/index.ts";

export const MATH = new URL("../fixtures/math.ts", import.meta.url);
export const IO = new URL("../fixtures/io.ts", import.meta.url);

/** Cores this process may use (sched_getaffinity through /proc). */
export const CORES = navigator.hardwareConcurrency;

/** Starts a manager and registers it for closing after the test, even when the test fails. */
export function managers() {
  const open: ThreadManager[] = [];
  return {
    async start(config: ThreadManagerConfig): Promise<ThreadManager> {
      const tm = await ThreadManager.start(config);
      open.push(tm);
      return tm;
    },
    async closeAll(): Promise<void> {
      await Promise.all(open.splice(0).map((tm) => tm.close({ drain: false, timeoutMs: 2000 })));
    },
  };
}

export function threadCount(): number {
  return readdirSync("/proc/self/task").length;
}

/** Polls `cond` until true or the deadline; never sleeps a fixed time to "wait for" something. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(1);
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the promise to reject");
}

/** CPU time (ms) used by every thread of this process so far. */
export function processCpuMs(): number {
  const fields = require("node:fs").readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}
