/** Cancellation, backpressure, crash healing and close, through the public API. */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { InvalidArgumentError, PoolBusyError, PoolClosedError, ThreadManager, WorkerCrashedError } from "../../src/index.ts";
import { CORES, IO, MATH, managers, rejection, threadCount, until } from "./helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

describe("cancellation", () => {
  test("aborting a queued task rejects it with the reason, and it never runs", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const cpu = tm.compute("cpu");
    const flags = new Int32Array(new SharedArrayBuffer(16));
    const busy = cpu.run("busyThenMark", [150, 0, flags]); // occupies the only thread
    await until(() => cpu.metrics().threads[0]!.running === 1, 5000, "the busy task to start");
    const ac = new AbortController();
    const queued = cpu.run("busyThenMark", [0, 1, flags], { signal: ac.signal });
    ac.abort(new Error("changed my mind"));
    expect((await rejection(queued)).message).toBe("changed my mind");
    expect(await busy).toBe(0);
    expect(await cpu.run("busyThenMark", [0, 2, flags])).toBe(2); // runs after the cancelled one would have
    expect([...flags.subarray(0, 3)]).toEqual([1, 0, 1]);
    expect(cpu.metrics().cancelled).toBe(1);
    expect(cpu.pending).toBe(0);
  });

  test("an already-aborted signal rejects at once", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const e = await rejection(tm.compute("cpu").run("add", [1, 2], { signal: AbortSignal.abort("nope") }));
    expect(e).toBe("nope");
  });

  test("a running async handler sees ctx.signal abort", async () => {
    const tm = await m.start({ async: { io: { module: IO, worker_threads: 1, concurrency: 4 } } });
    const io = tm.async("io");
    const flags = new Int32Array(new SharedArrayBuffer(4));
    const ac = new AbortController();
    const p = io.run("waitForAbort", flags, { signal: ac.signal });
    await until(() => io.metrics().threads[0]!.running === 1, 5000, "the handler to start");
    ac.abort();
    expect((await rejection(p)).name).toBe("AbortError");
    await until(() => Atomics.load(flags, 0) === 1, 5000, "the handler to see the abort");
    await until(() => io.pending === 0, 5000, "the slot to be freed");
  });

  test("a running compute handler can poll ctx.signal.aborted", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const cpu = tm.compute("cpu");
    const ac = new AbortController();
    const p = cpu.run("spin", 10_000, { signal: ac.signal });
    await until(() => cpu.metrics().threads[0]!.running === 1, 5000, "the handler to start");
    ac.abort();
    await rejection(p);
    await until(() => cpu.pending === 0, 5000, "the spinning handler to notice and return"); // far sooner than 10 s
    expect(await cpu.run("add", [1, 1])).toBe(2);
  });
});

describe("backpressure", () => {
  test("past max_queue, run() rejects at once with PoolBusyError; room comes back", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1, max_queue: 4 } } });
    const cpu = tm.compute("cpu");
    const flags = new Int32Array(new SharedArrayBuffer(16));
    const accepted = [0, 1, 2, 3].map((i) => cpu.run("busyThenMark", [20, i, flags]));
    const e = await rejection(cpu.run("add", [1, 2]));
    expect(e).toBeInstanceOf(PoolBusyError);
    expect(e.code).toBe("ERR_POOL_BUSY");
    expect(e.message).toContain('"cpu"');
    expect(await Promise.all(accepted)).toEqual([0, 1, 2, 3]);
    expect(await cpu.run("add", [1, 2])).toBe(3);
    expect(cpu.metrics().rejected).toEqual({ busy: 1, closed: 0 }); // shed load is counted
    await cpu.close();
    await rejection(cpu.run("add", [1, 2]));
    expect(cpu.metrics().rejected).toEqual({ busy: 1, closed: 1 });
    expect(tm.prometheus()).toContain('btm_tasks_rejected_total{pool="cpu",kind="compute",reason="busy"} 1');
  });
});

describe("crash healing", () => {
  test("a thread that exits mid-task: that task rejects with WorkerCrashedError, the rest complete, a new thread takes its seat", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    const cpu = tm.compute("cpu");
    const work = Array.from({ length: 2000 }, (_, i) => cpu.run("add", [i, 1]));
    const crash = cpu.run("crash", 7);
    const more = Array.from({ length: 2000 }, (_, i) => cpu.run("add", [i, 2]));
    const e = await rejection(crash);
    expect(e).toBeInstanceOf(WorkerCrashedError);
    expect(e.code).toBe("ERR_WORKER_CRASHED");
    expect((await Promise.all(work)).every((v, i) => v === i + 1)).toBe(true);
    expect((await Promise.all(more)).every((v, i) => v === i + 2)).toBe(true);
    await until(() => cpu.metrics().threads.every((t) => t.alive), 10_000, "the replacement thread");
    expect(cpu.metrics().crashed).toBe(1);
    expect(await Promise.all([1, 2, 3].map((i) => cpu.run("add", [i, i])))).toEqual([2, 4, 6]);
  }, 30_000);

  test.skipIf(CORES < 2)("a join whose stolen half kills its thief settles with WorkerCrashedError, even when the thief's seat is live again by then", async () => {
    // The owner runs its half for 80 ms; the thief dies after 5 ms and its replacement is ready long
    // before the owner looks: the frame, not the seat, must say the thief died (before: hung forever).
    const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, dynamic_threads: 0, max_threads: 2, scaler: { enabled: false } } } });
    const cpu = tm.compute("cpu");
    const tids = new Set(cpu.metrics().threads.map((t) => t.tid));
    for (let round = 0; round < 8; round++) {
      const e = await rejection(cpu.run("joinThiefDies", 80));
      expect(e.name).toBe("WorkerCrashedError"); // the owner's handler throws it (a TaskError), or the owner itself ran the half and died
      await until(() => cpu.metrics().threads.every((t) => t.alive), 10_000, "the replacement thread");
      for (const t of cpu.metrics().threads) tids.add(t.tid);
    }
    expect(tids.size).toBe(2 + 8); // one thread died and was replaced per round
    expect(await cpu.run("fib", 20)).toBe(6765);
  }, 60_000);

  test("a join owner that dies while its half runs on a thief: the thief's late result never lands in the replacement's joins", async () => {
    // The dead owner's replacement reuses the same join frames; its own joins' halves are taken by a
    // third thread. Before frame generations, the old thief's result (111) answered the new join.
    const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 3, dynamic_threads: 0, max_threads: 3, scaler: { enabled: false } } } });
    const cpu = tm.compute("cpu");
    for (let round = 0; round < 2; round++) {
      const dying = rejection(cpu.run("joinOwnerDies", null));
      await Bun.sleep(300); // the owner died at 100 ms; its replacement is ready; the thief runs on until 600 ms
      expect(await cpu.run("joinSlowSecond", null)).toBe(222);
      expect((await dying).name).toBe("WorkerCrashedError");
    }
    expect(await cpu.run("fib", 22)).toBe(17711);
  }, 60_000);

  test("an async thread killed by an uncaught error: its in-flight tasks reject, others are unharmed", async () => {
    const tm = await m.start({ async: { io: { module: IO, worker_threads: 2, concurrency: 4 } } });
    const io = tm.async("io");
    const doomed = io.run("crashLater", 0);
    const e = await rejection(doomed);
    expect(e).toBeInstanceOf(WorkerCrashedError);
    await until(() => io.metrics().threads.every((t) => t.alive), 10_000, "the replacement thread");
    expect(await Promise.all([1, 2, 3, 4, 5].map((i) => io.run("echo", i)))).toEqual([1, 2, 3, 4, 5]);
  }, 30_000);
});

describe("close", () => {
  test("drain: true finishes queued work, then run() rejects and every thread is gone", async () => {
    // Bun starts its own helper threads lazily (JIT, GC); let one pool start and stop first.
    await (await ThreadManager.start({ compute: { warm: { module: MATH, max_threads: 2 } } })).close();
    const before = threadCount();
    const tm = await ThreadManager.start({ compute: { cpu: { module: MATH, max_threads: 2 } }, async: { io: { module: IO, worker_threads: 1 } } });
    const cpu = tm.compute("cpu");
    const tids = [...cpu.metrics().threads, ...tm.async("io").metrics().threads].map((t) => t.tid);
    expect(tids.every((tid) => existsSync(`/proc/self/task/${tid}`))).toBe(true);
    const flags = new Int32Array(new SharedArrayBuffer(64));
    const queued = Array.from({ length: 10 }, (_, i) => cpu.run("busyThenMark", [5, i, flags]));
    await tm.close({ drain: true });
    expect(await Promise.all(queued)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await rejection(cpu.run("add", [1, 2]))).toBeInstanceOf(PoolClosedError);
    await until(() => tids.every((tid) => !existsSync(`/proc/self/task/${tid}`)), 5000, "pool threads to exit");
    await until(() => threadCount() <= before, 5000, "the thread count to return to what it was");
  });

  test("drain: false rejects queued tasks with PoolClosedError and lets the running one finish", async () => {
    const tm = await ThreadManager.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const cpu = tm.compute("cpu");
    const flags = new Int32Array(new SharedArrayBuffer(64));
    const running = cpu.run("busyThenMark", [100, 0, flags]);
    await until(() => cpu.metrics().threads[0]!.running === 1, 5000, "the first task to start");
    const queued = Promise.allSettled([1, 2, 3].map((i) => cpu.run("busyThenMark", [0, i, flags])));
    await tm.close({ drain: false });
    expect(await running).toBe(0);
    for (const q of await queued) {
      expect(q.status).toBe("rejected");
      const e = (q as PromiseRejectedResult).reason;
      expect(e).toBeInstanceOf(PoolClosedError);
      expect(e.message).toContain("before this task ran");
    }
    expect([...flags.subarray(0, 4)]).toEqual([1, 0, 0, 0]);
  });

  test("a task still running at the close timeout rejects with PoolClosedError; close does not hang", async () => {
    const tm = await ThreadManager.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const stuck = rejection(tm.compute("cpu").run("spin", 60_000));
    await until(() => tm.compute("cpu").metrics().threads[0]!.running === 1, 5000, "the task to start");
    await tm.close({ timeoutMs: 50 });
    expect((await stuck).message).toContain("closed after 50 ms");
  });

  test("timeoutMs: Infinity waits for a running task; bad values close nothing and name the option", async () => {
    const tm = await ThreadManager.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    for (const bad of [NaN, -5, "abc"]) {
      const e = await rejection(tm.close({ timeoutMs: bad as never }));
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect(e.message).toContain("options.timeoutMs");
    }
    expect(await tm.compute("cpu").run("add", [1, 1])).toBe(2); // still open
    const task = tm.compute("cpu").run("spin", 300);
    await until(() => tm.compute("cpu").metrics().threads[0]!.running === 1, 5000, "the task to start");
    const t0 = performance.now();
    await tm.close({ timeoutMs: Infinity });
    expect(await task).toBe("done"); // finished, not rejected
    expect(performance.now() - t0).toBeGreaterThan(200);
  });

  test("an idle pool that is never closed lets the process exit", () => {
    const script = `
      const { ThreadManager } = await import(${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)});
      const tm = await ThreadManager.start({ compute: { c: { module: ${JSON.stringify(MATH.href)}, max_threads: 2 } }, async: { a: { module: ${JSON.stringify(IO.href)} } } });
      console.log(await tm.compute("c").run("add", [1, 2]), await tm.async("a").run("echo", "x"));`;
    const p = Bun.spawnSync(["bun", "-e", script], { timeout: 15_000 });
    expect(p.exitCode).toBe(0);
    expect(p.stdout.toString().trim()).toBe("3 x");
  }, 20_000);
});
