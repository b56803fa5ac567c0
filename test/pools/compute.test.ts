/** Compute pools: rayon-style join and parallelFor. */
import { afterEach, describe, expect, test } from "bun:test";
import { InvalidArgumentError, TaskError } from "../../src/index.ts";
import { CORES, MATH, managers, rejection, until } from "./helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

describe("ctx.join", () => {
  test("fib with joins gives the right answer on 1 and 2 threads", async () => {
    const tm = await m.start({ compute: { one: { module: MATH, max_threads: 1 }, two: { module: MATH, max_threads: 2 } } });
    expect(await tm.compute("one").run("fib", 24)).toBe(46368);
    expect(await tm.compute("two").run("fib", 27)).toBe(196418);
  });

  test("nested joins work to any depth, past the join-frame depth too (runs inline there)", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    expect(await tm.compute("cpu").run("tree", 12)).toBe(4096);
    expect(await tm.compute("cpu").run("tree", 70 > 64 ? 16 : 0)).toBe(65536);
  });

  test.skipIf(CORES < 2)("idle threads steal join halves", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
    // On a busy 2-core VM the other thread can miss one short task; a few tries, each one task.
    let seenBoth = false;
    for (let attempt = 0; attempt < 20 && !seenBoth; attempt++) {
      const seen = new Int32Array(new SharedArrayBuffer(4));
      expect(await tm.compute("cpu").run("fibSeen", [25, seen])).toBe(75025);
      seenBoth = Atomics.load(seen, 0) === 3; // both threads ran parts of this one task
    }
    expect(seenBoth).toBe(true);
    expect(tm.compute("cpu").metrics().stolen).toBeGreaterThan(0);
  });

  test.skipIf(CORES < 2)("a task's first join offers its half even when its thread's deque holds queued tasks (JOIN J0 applies inside joins only)", async () => {
    // The tasks submitted with it may sit in its thread's deque (the rest of an injector batch); a
    // join that ran both halves inline behind them would leave the other thread idle after the adds.
    const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
    const cpu = tm.compute("cpu");
    let split = 0;
    for (let round = 0; round < 5; round++) {
      await Bun.sleep(5);
      const both = cpu.run<[number, number]>("joinTwoSpins", 100);
      const adds = Array.from({ length: 8 }, (_, i) => cpu.run("add", [i, 1]));
      const [a, b] = await both;
      await Promise.all(adds);
      if (a !== b) split++;
    }
    expect(split).toBeGreaterThanOrEqual(4); // every round here; the build that inlined it: none of 20
  });

  test("halves whose arguments hold a view main shared: a thief gets the owner's registration of it (no lost relay)", async () => {
    // The owner sends the buffer on under its own id (Mail M3); only main relays that to the thief,
    // which waits for it. A ring that found main awake used to be lost: the task hung 30 s, then failed.
    const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
    for (let rep = 0; rep < 30; rep++) {
      const marks = new Int32Array(new SharedArrayBuffer(4 * 4096));
      expect(await tm.compute("cpu").run("sharedTree", [12, 0, marks, 5000])).toBe(4096);
      expect(marks.every((x) => x === 1)).toBe(true);
    }
  }, 25_000);

  test.skipIf(CORES < 2)("a stolen half sees its task's abort through ctx.signal (its thread is not replaced)", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2, abort_grace_ms: 500 } } });
    const cpu = tm.compute("cpu");
    const seen = new Int32Array(new SharedArrayBuffer(8));
    const e = await rejection(cpu.run("joinUntilAborted", [3000, seen], { signal: AbortSignal.timeout(200) }));
    expect(e.name).toBe("TimeoutError");
    await until(() => Atomics.load(seen, 0) !== 0 && Atomics.load(seen, 1) !== 0, 5000, "both halves to end");
    expect(Array.from(seen)).toEqual([1, 1]); // both threads ran a half and both saw the abort
    await Bun.sleep(600); // past the grace: a half still running would have had its thread replaced
    expect(cpu.metrics().replaced).toBe(0);
  });

  test("an error in the stolen or inline half rejects the task with the original error", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    const e = await rejection(tm.compute("cpu").run("joinFails", 1));
    expect(e).toBeInstanceOf(TaskError);
    expect(e.name).toBe("RangeError");
    expect(e.message).toBe("second half failed");
    expect(await tm.compute("cpu").run("fib", 20)).toBe(6765);
  });
});

describe("parallelFor", () => {
  test("sums a shared Float64Array", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    const data = new Float64Array(new SharedArrayBuffer(8 * 100_003));
    for (let i = 0; i < data.length; i++) data[i] = i % 7;
    const expected = data.reduce((a, b) => a + b, 0);
    expect(await tm.compute("cpu").parallelFor("sum", 0, data.length, { grain: 1000, arg: data })).toBe(expected);
    expect(await tm.compute("cpu").parallelFor("sum", 10, 10, { arg: data })).toBe(0); // empty range: one kernel call
  });

  test("covers every index exactly once, for odd sizes and grains", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    for (const [n, grain] of [[1, 1], [7, 2], [1000, 1], [65_537, 100], [10_000, 10_000]] as const) {
      const marks = new Uint8Array(new SharedArrayBuffer(n));
      expect(await tm.compute("cpu").parallelFor("markRange", 0, n, { grain, arg: marks })).toBeUndefined();
      expect(marks.every((v) => v === 1)).toBe(true);
    }
  });

  test.skipIf(CORES < 2)("idle threads steal halves of the range", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    const counts = new Int32Array(new SharedArrayBuffer(8));
    await tm.compute("cpu").parallelFor("countByThread", 0, 200_000, { grain: 2000, arg: counts });
    expect(counts[0]! + counts[1]!).toBe(200_000);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
  });

  test("bad ranges and kernels give clear errors", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const cpu = tm.compute("cpu");
    expect(await rejection(cpu.parallelFor("sum", 5, 1))).toBeInstanceOf(InvalidArgumentError);
    expect((await rejection(cpu.parallelFor("sum", 0, 1.5))).message).toContain("parallelFor(end)");
    expect((await rejection(cpu.parallelFor("sum", 0, 10, { grain: 0 }))).message).toContain("grain");
    expect((await rejection(cpu.parallelFor("nope", 0, 10))).code).toBe("ERR_HANDLER_NOT_FOUND");
    expect((await rejection(cpu.parallelFor("badKernel", 0, 10, { grain: 2 }))).message).toContain("return a number");
  });
});
