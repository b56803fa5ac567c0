// Handlers for the "cpu" compute pool: every exported function is a handler.
import type { TaskContext } from "bun-thread-manager";

/** Sum of a pair: the smallest task there is. */
export function add([a, b]: [number, number]): number {
  return a + b;
}

/** Fibonacci with fork-join: the second half may run on another thread of the pool. */
export function fib(n: number, ctx: TaskContext): number {
  if (n < 20) return fibSeq(n);
  const [a, b] = ctx.join<number, number>(["fib", n - 1], ["fib", n - 2]);
  return a + b;
}

/** A parallelFor kernel: sums data[start..end). The data is shared memory, never copied. */
export function sum(start: number, end: number, data: Float64Array): number {
  let s = 0;
  for (let i = start; i < end; i++) s += data[i]!;
  return s;
}

/** A CPU-heavy job on a string: its SHA-256, hex. */
export function sha256(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

function fibSeq(n: number): number {
  return n < 2 ? n : fibSeq(n - 1) + fibSeq(n - 2);
}

/** Square root; a negative number is an error the caller gets back as a TaskError. */
export function sqrt(n: number): number {
  if (n < 0) throw new RangeError(`sqrt of a negative number: ${n}`);
  return Math.sqrt(n);
}
