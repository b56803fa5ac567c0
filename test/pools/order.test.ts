/**
 * Tasks submitted together start in submission order (oldest first) on each thread: injected work
 * is taken from the front of a thread's deque; fork-join halves still pop from the back.
 */
import { afterEach, expect, test } from "bun:test";
import { CORES, MATH, managers } from "./helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

/** Holds the pool's threads on a gate, queues `n` tickets behind them, opens the gate: the start order of each ticket. */
async function startOrder(threads: number, n: number): Promise<Array<[started: number, thread: number]>> {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: threads, max_threads: threads } } });
  const cpu = tm.compute("cpu");
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const held = Array.from({ length: threads }, () => cpu.run("waitGate", gate));
  await Bun.sleep(50); // every thread holds a gate task (no assertion rests on it: a thread that had not would take tickets in order too)
  const tickets = Array.from({ length: n }, () => cpu.run("ticket", counter) as Promise<[number, number]>);
  await Bun.sleep(20);
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  await Promise.all(held);
  return Promise.all(tickets);
}

test("one thread: 8 and 40 tasks queued together start oldest first", async () => {
  for (const n of [8, 40]) {
    const order = (await startOrder(1, n)).map(([started]) => started);
    expect(order).toEqual(Array.from({ length: n }, (_, i) => i));
    await m.closeAll();
  }
});

test.skipIf(CORES < 2)("two threads: each thread starts the tasks it takes oldest first", async () => {
  const n = 200;
  const order = await startOrder(2, n);
  expect(new Set(order.map(([started]) => started)).size).toBe(n);
  // Per thread, the submission indices in the order they started. A descent is a task that started
  // after a newer one on the same thread: only a steal of older work makes one (a few per run).
  // Newest-first deques made about 14 per 16-task injector batch (150+ here).
  let descents = 0;
  for (const thread of [0, 1]) {
    const seq = order.map(([started, t], i) => ({ started, t, i })).filter((x) => x.t === thread).sort((a, b) => a.started - b.started);
    for (let k = 1; k < seq.length; k++) if (seq[k]!.i < seq[k - 1]!.i) descents++;
  }
  expect(descents).toBeLessThan(20);
});
