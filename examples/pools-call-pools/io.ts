// Async handlers: they may await other pools through ctx.pools.
import type { TaskContext } from "bun-thread-manager";

/** Hashes every line of a text on the compute pool, in parallel, and returns the hashes. */
export async function hashLines(text: string, ctx: TaskContext): Promise<string[]> {
  const cpu = ctx.pools.compute("hashing"); // [mapping]: hashing -> cpu
  return await Promise.all(text.split("\n").map((line) => cpu.run<string>("sha256", line)));
}
