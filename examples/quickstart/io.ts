// Handlers for the "io" async pool: async functions, many in flight per thread.
import type { TaskContext } from "bun-thread-manager";

/** Reads a file and counts its lines: file I/O off the main thread. */
export async function countLines(path: string, ctx: TaskContext): Promise<number> {
  ctx.signal.throwIfAborted();
  const text = await Bun.file(path).text();
  return text.split("\n").length;
}

/** Waits `ms`, unless the caller aborts first (ctx.signal). */
export async function sleep(ms: number, ctx: TaskContext): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    ctx.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(ctx.signal.reason);
    });
  });
  return `slept ${ms} ms`;
}
