// Compute handlers: synchronous, CPU-bound.
import type { TaskContext } from "bun-thread-manager";

export function sha256(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

export function fib(n: number, ctx: TaskContext): number {
  if (n < 20) return n < 2 ? n : fib(n - 1, ctx) + fib(n - 2, ctx);
  const [a, b] = ctx.join<number, number>(["fib", n - 1], ["fib", n - 2]);
  return a + b;
}
