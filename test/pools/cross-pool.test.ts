/** Pools call pools: async handlers submit to compute pools through lanes of their own (src/submit/). */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { AsyncPool, PoolClosedError } from "../../src/index.ts";
import { managers, rejection, until } from "./helpers.ts";

const CALLERS = new URL("../fixtures/callers.ts", import.meta.url).href;
const CROSS = new URL("../fixtures/cross-math.ts", import.meta.url).href;
const STRESS = process.env.STRESS === "1";
const m = managers();
afterEach(() => m.closeAll());

function config(extra: Record<string, unknown> = {}) {
  return {
    compute: { cpu: { module: CROSS, static_threads: 2, max_threads: 2 } },
    async: { io: { module: CALLERS, worker_threads: 2, concurrency: 64 } },
    mapping: { hashing: "cpu" },
    ...extra,
  };
}

describe("pools call pools", () => {
  test("an async handler runs a compute task through ctx.pools, by name and through [mapping]", async () => {
    const tm = await m.start(config());
    const io = tm.async("io");
    expect(await io.run("fibVia", ["cpu", 20])).toBe(6765);
    expect(await io.run("fibVia", ["hashing", 15])).toBe(610);
    expect(await io.run("boundFib", ["cpu", 10])).toBe(55);
    expect(await io.run("sumVia", ["cpu", 1000])).toBe(499500);
  });

  test("a thread's burst of big arguments: each result finds the block its argument left (ARENA L1), none fails", async () => {
    // The default 8 MiB segment holds 1 block of 1 MiB, 4 of 256 KiB and 16 of 64 KiB; every argument waits for room.
    const tm = await m.start(config({ async: { io: { module: CALLERS, worker_threads: 1, concurrency: 4 } } }));
    for (const [count, bytes] of [[2, 1 << 20], [4, 1 << 20], [16, 300_000], [40, 65_537], [64, 20_000]] as const) {
      for (let round = 0; round < 5; round++) {
        expect([count, bytes, ...(await tm.async("io").run<[number, string]>("bigEchoes", ["cpu", count, bytes]))]).toEqual([count, bytes, count, ""]);
      }
    }
    expect(tm.compute("cpu").metrics().arena.usedBytes).toBe(0);
  }, 60_000);

  test("several threads' bursts of big values at once: each result goes in its argument's block (ARENA L2), none fails", async () => {
    const tm = await m.start(config({ async: { io: { module: CALLERS, worker_threads: 2, concurrency: 4 } } }));
    for (const [count, bytes] of [[4, 1 << 20], [16, 300_000], [40, 65_537]] as const) {
      for (let round = 0; round < 4; round++) {
        const outs = await Promise.all(Array.from({ length: 4 }, () => tm.async("io").run<[number, string]>("bigEchoes", ["cpu", count, bytes])));
        expect(outs).toEqual(Array.from({ length: 4 }, () => [count, ""]));
      }
    }
    expect(tm.compute("cpu").metrics().arena.usedBytes).toBe(0);
  }, 60_000);

  test("a compute thread that dies holding a thread's argument: its caller frees the block (ARENA L2)", async () => {
    const tm = await m.start(config({ async: { io: { module: CALLERS, worker_threads: 1 } } }));
    const [ok, crashed] = await tm.async("io").run<[number, number]>("bigWithDeaths", ["cpu", 16]);
    expect([ok, crashed]).toEqual([12, 4]);
    await until(() => tm.compute("cpu").metrics().threads.filter((t) => t.alive).length === 2, 10_000, "the dead threads to be replaced");
    const x = tm.compute("cpu").metrics();
    expect([x.crashed, x.pending, x.arena.usedBytes]).toEqual([4, 0, 0]);
  }, 30_000);

  test("aborting a thread's calls that wait for arena room leaves its running call its block; the counts balance", async () => {
    const tm = await m.start(config({ compute: { cpu: { module: CROSS, static_threads: 1, max_threads: 1 } }, async: { io: { module: CALLERS, worker_threads: 1 } } }));
    for (let round = 0; round < 3; round++) {
      const [first, others] = await tm.async("io").run<[string, string[]]>("abortWaiters", ["cpu", 20, 200_000]);
      expect(first).toBe("ok");
      expect(others.every((name) => name === "TimeoutError" || name === "ok")).toBe(true);
    }
    const x = tm.compute("cpu").metrics();
    const lane = x.submitters.find((s) => s.submitter !== "main")!;
    expect(lane.submitted).toBe(60); // the aborted ones count: they were submitted, then cancelled
    expect(lane.completed + lane.failed + lane.cancelled + lane.crashed).toBe(60);
    expect([x.pending, x.arena.usedBytes]).toEqual([0, 0]);
  }, 30_000);

  test("the same errors as on main: unknown pool (with the kinds there are), unknown handler, wrong kind, native from a thread", async () => {
    const tm = await m.start({ ...config(), native: { bg: { max_threads: 1 } } });
    const io = tm.async("io");
    const [name1, code1, msg1] = (await io.run("errorOf", ["compute", "nope", "fib", 1])) as string[];
    expect([name1, code1]).toEqual(["PoolNotFoundError", "ERR_POOL_NOT_FOUND"]);
    expect(msg1).toContain("cpu");
    const [, code2, msg2] = (await io.run("errorOf", ["compute", "cpu", "fibb", 1])) as string[];
    expect(code2).toBe("ERR_HANDLER_NOT_FOUND");
    expect(msg2).toContain("fib");
    const [, code3] = (await io.run("errorOf", ["compute", "io", "fib", 1])) as string[];
    expect(code3).toBe("ERR_POOL_NOT_FOUND");
    const [, code4, msg4] = (await io.run("errorOf", ["native", "bg", "", 0])) as string[];
    expect(code4).toBe("ERR_NATIVE_FROM_THREAD");
    expect(msg4).toContain("main thread");
    const [, code5] = (await io.run("errorOf", ["compute", "cpu", 42, 1])) as string[];
    expect(code5).toBe("ERR_INVALID_ARGUMENT");
    const [, code6, msg6] = (await io.run("errorOf", ["compute", 5, "fib", 1])) as string[];
    expect(code6).toBe("ERR_INVALID_ARGUMENT");
    expect(msg6).toContain("pool name");
    expect(() => tm.compute(undefined as unknown as string)).toThrow("must be a pool name");
  });

  test("a compute handler that calls a pool gets a clear error, not a hang", async () => {
    const tm = await m.start(config());
    const e = await rejection(tm.compute("cpu").run("callFromCompute", "cpu"));
    expect(e.code).toBe("ERR_TASK_FAILED");
    expect(e.originalCode).toBe("ERR_SYNC_HANDLER");
    expect(e.message).toContain("synchronous");
    const viaImport = await rejection(tm.compute("cpu").run("callViaImport", 1)); // a pool: import, not a hang
    expect(viaImport.originalCode).toBe("ERR_SYNC_HANDLER");
    expect(await tm.compute("cpu").run("add", [1, 2])).toBe(3);
  });

  test("abort from a thread rejects at once with the signal's reason; the running handler sees ctx.signal", async () => {
    const tm = await m.start(config());
    expect(await tm.async("io").run("abortVia", ["cpu", 2000])).toBe("enough");
    expect(await tm.compute("cpu").run("add", [2, 2])).toBe(4);
  });

  test("exactly once: 100k tasks from two async threads and main at once, all correct", async () => {
    const tm = await m.start(config());
    const io = tm.async("io");
    const cpu = tm.compute("cpu");
    // A thread's lane holds 1024 tasks in flight: both fan-outs of a round may land on one thread.
    const per = 500; // per fan-out call: 2 calls in flight per round, plus main's own
    const rounds = STRESS ? 667 : 67; // 100.5k tasks (1M under STRESS)
    const executed = () => cpu.metrics().threads.reduce((n, t) => n + t.executed, 0);
    const before = { submitted: cpu.metrics().submitted, executed: executed() };
    let wrong = 0;
    for (let r = 0; r < rounds; r++) {
      const base = r * 3 * per;
      const calls = [io.run<number[]>("fanOut", ["cpu", per, base]), io.run<number[]>("fanOut", ["cpu", per, base + per])];
      const mine = Promise.all(Array.from({ length: per }, (_, i) => cpu.run<number>("echo", base + 2 * per + i)));
      const got = [...(await Promise.all(calls)).flat(), ...(await mine)];
      got.forEach((v, i) => v !== base + i && wrong++); // every task's own value, in its place
    }
    expect(wrong).toBe(0);
    const metrics = cpu.metrics();
    expect(metrics.submitted - before.submitted).toBe(rounds * 3 * per);
    expect(executed() - before.executed).toBe(rounds * 3 * per); // each ran exactly once
    expect(metrics.pending).toBe(0);
    expect(metrics.submitters.map((s) => s.submitter)).toContain("main");
    expect(metrics.submitters.some((s) => s.submitter.startsWith("io-"))).toBe(true);
  }, 120_000);

  test("a thread that exits with tasks in flight: its lane is reaped, nothing leaks, pending returns to 0", async () => {
    const tm = await m.start(config());
    const io = tm.async("io");
    const cpu = tm.compute("cpu");
    for (let round = 0; round < 4; round++) {
      const e = await rejection(io.run("exitWhileWaiting", ["cpu", 20]));
      expect(e.code).toBe("ERR_WORKER_CRASHED");
    }
    await until(() => cpu.metrics().lanes.held === 0 && cpu.pending === 0, 10_000, "lanes reaped");
    const m1 = cpu.metrics();
    expect(m1.lanes.reaped).toBeGreaterThanOrEqual(4);
    expect(await io.run("fibVia", ["cpu", 12])).toBe(144); // a replacement thread takes a lane again
    expect(await cpu.run("add", [1, 1])).toBe(2);
  });

  test("closing a pool that others call: their calls reject with PoolClosedError; tm.close settles everything", async () => {
    const tm = await m.start(config());
    const io = tm.async("io");
    expect(await io.run("fibVia", ["cpu", 10])).toBe(55);
    await tm.compute("cpu").close();
    const e = await rejection(io.run("fibVia", ["cpu", 10]));
    expect(e.code).toBe("ERR_TASK_FAILED");
    expect(e.originalCode).toBe("ERR_POOL_CLOSED");
    const inFlight = io.run("fanOut", ["cpu", 100, 0]).catch((x) => x);
    await tm.close();
    const r = await inFlight;
    expect(r === undefined || r instanceof Error || typeof r === "number").toBe(true);
    expect(PoolClosedError).toBeDefined();
  });

  test("a compute thread that dies running a thread's task: that submitter gets WorkerCrashedError, the others complete", async () => {
    const tm = await m.start(config());
    const got = (await tm.async("io").run("crashVia", ["cpu", 50])) as Array<[string, unknown]>;
    expect(got[0]).toEqual(["WorkerCrashedError", "ERR_WORKER_CRASHED"]);
    got.slice(1).forEach(([state, v], i) => {
      if (state === "ok") expect(v).toBe(2 * (i + 1));
      else expect(v).toBe("ERR_WORKER_CRASHED"); // tasks of the dying thread's deque... none are lost, some may share its fate
    });
    expect(got.filter(([s]) => s === "ok").length).toBeGreaterThan(0);
    await until(() => tm.compute("cpu").pending === 0, 5000, "nothing pending");
  });

  test("payloads from a thread: arena-sized values round trip; a SharedArrayBuffer or a value over one arena block is refused clearly", async () => {
    const tm = await m.start(config()); // 8 MiB arena: blocks up to 1 MiB
    const io = tm.async("io");
    expect(await io.run("sendVia", ["cpu", "bytes", 100_000])).toEqual(["ok", 100_000]);
    expect(await io.run("sendVia", ["cpu", "string", 40_000])).toEqual(["ok", 40_000]); // long strings go in the arena
    const [code1, msg1] = (await io.run("sendVia", ["cpu", "sab", 0])) as string[];
    expect(code1).toBe("ERR_DATA_CLONE");
    expect(msg1).toContain("SharedArrayBuffer");
    const [code2, msg2] = (await io.run("sendVia", ["cpu", "bytes", 4 << 20])) as string[];
    expect(code2).toBe("ERR_PAYLOAD_TOO_LARGE");
    expect(msg2).toContain("arena block");
    const [code3, msg3] = (await io.run("sendVia", ["cpu", "result", 4 << 20])) as string[];
    expect(code3).toBe("ERR_PAYLOAD_TOO_LARGE");
    expect(msg3).toContain("makeBytes");
    expect(await io.run("fibVia", ["cpu", 10])).toBe(55); // the pools go on
  });

  test("tm.close cutting callers at its deadline with maps in flight: the called pool's counts balance, its lanes all free", async () => {
    // The callers' threads exit at the deadline while the called pool is also closing: their lanes
    // are reaped before or after its threads are gone (LANE R4), in either order.
    for (let round = 0; round < (STRESS ? 20 : 4); round++) {
      const tm = await m.start(config({ compute: { cpu: { module: CROSS, max_threads: 2 } }, async: { io: { module: CALLERS, worker_threads: 1, concurrency: 16 } } }));
      const io = tm.async("io");
      const cpu = tm.compute("cpu");
      const calls = Promise.allSettled(Array.from({ length: 4 }, () => io.run("mapSlowVia", ["cpu", 5000, 1])));
      await until(() => cpu.metrics().completed > 100, 5000, "the maps running");
      const out = await tm.close({ timeoutMs: 200 + round * 37 });
      expect(out.io!.cutAtDeadline).toBe(4);
      await calls;
      const after = cpu.metrics();
      expect([after.pending, after.lanes.held]).toEqual([0, 0]);
      expect(after.submitted).toBe(after.completed + after.failed + after.cancelled + after.crashed + after.dropped);
    }
  }, 120_000);

  test("tm.close({ drain: false }) with callers mid-map closes every pool at once: their maps end with PoolClosedError, nobody waits for the deadline", async () => {
    const tm = await m.start(config({ compute: { cpu: { module: CROSS, max_threads: 2 } }, async: { io: { module: CALLERS, worker_threads: 1, concurrency: 16 } } }));
    const cpu = tm.compute("cpu");
    const calls = Promise.allSettled(Array.from({ length: 4 }, () => tm.async("io").run("mapSlowVia", ["cpu", 5000, 1])));
    await until(() => cpu.metrics().completed > 100, 5000, "the maps running");
    const out = await tm.close({ drain: false, timeoutMs: 60_000 });
    expect([out.io!.timedOut, out.io!.cutAtDeadline, out.cpu!.timedOut]).toEqual([false, 0, false]); // before: io ran on to its deadline
    const settled = await calls;
    expect(settled.every((c) => c.status === "fulfilled" && (c.value as number) < 5000)).toBe(true); // each map ended early, its handler returned
    const after = cpu.metrics();
    expect([after.pending, after.lanes.held]).toEqual([0, 0]);
    expect(after.submitted).toBe(after.completed + after.failed + after.cancelled + after.crashed + after.dropped);
  });

  test("submitters dying mid-flight: every surviving call gets its own values exactly once; nothing leaks", async () => {
    const tm = await m.start(config({ async: { io: { module: CALLERS, worker_threads: 2, concurrency: 64 } } }));
    const io = tm.async("io");
    const cpu = tm.compute("cpu");
    const executed = () => cpu.metrics().threads.reduce((n, t) => n + t.executed, 0);
    const before = executed();
    const rounds = STRESS ? 1000 : 100; // 100k tasks (1M under STRESS)
    const per = 500; // both calls of a round may share one thread's lane (1024)
    let wrong = 0;
    let alive = 0;
    let died = 0;
    for (let r = 0; r < rounds; r++) {
      const base = r * 2 * per;
      const [a, b] = await Promise.allSettled([
        io.run<number[]>("churn", ["cpu", per, base, r % 7, false]),
        io.run<number[]>("churn", ["cpu", per, base + per, 100 + r, r % 5 === 0]), // every fifth round, this caller dies
      ]);
      for (const [s, off] of [[a, 0], [b, per]] as const) {
        if (s.status === "rejected") {
          if ((s.reason as { code?: string }).code !== "ERR_WORKER_CRASHED") throw s.reason;
          died++;
          continue;
        }
        alive++;
        s.value.forEach((v, i) => v !== base + off + i && wrong++);
      }
    }
    expect(wrong).toBe(0);
    expect(died).toBeGreaterThan(0);
    await until(() => cpu.metrics().lanes.held <= 2 && cpu.pending === 0, 10_000, "dead lanes reaped");
    const after = cpu.metrics();
    const ran = executed() - before;
    expect(ran).toBeGreaterThanOrEqual(alive * per); // each surviving task ran (exactly once: its own value came back)
    expect(ran).toBeLessThanOrEqual((alive + died) * per); // no task ran twice
    expect(after.arena.usedBytes).toBe(0); // every argument and result block given back, the dead callers' too
    expect(after.dropped).toBeGreaterThan(0); // what the dead callers had in flight
    expect(after.submitted).toBe(after.completed + after.failed + after.cancelled + after.crashed + after.dropped + after.pending);
    expect(after.lanes.reaped).toBeGreaterThanOrEqual(rounds / 5); // one thread death every fifth round (a call beside it on that thread dies too)
  }, 600_000);

  test("a call cycle that fills every slot is reported, not a silent hang; close settles it", async () => {
    const io = await AsyncPool.start({ name: "io", module: CALLERS, threads: 1, maxQueue: 64, concurrency: 1, stallMs: 300 });
    const warned: string[] = [];
    const spy = spyOn(console, "warn").mockImplementation((...a: unknown[]) => void warned.push(String(a[0])));
    try {
      const stuck = io.run("holdVia", ["io", 1]).catch((e) => e); // holdVia awaits io's holdHere: the one slot is taken
      await until(() => io.metrics().stalls === 1, 5000, "the stall reported");
      expect(warned.join("\n")).toContain("call cycle");
      await io.close({ drain: false, timeoutMs: 1000 });
      expect(await stuck).toBeInstanceOf(Error); // settled: the close rejected what was left
    } finally {
      spy.mockRestore();
      await io.close({ drain: false });
    }
  });

  test("task_timeout_ms covers other threads' tasks: the handler sees ctx.signal, one that ignores it has its thread replaced", async () => {
    const tm = await m.start(config({ compute: { cpu: { module: CROSS, static_threads: 2, max_threads: 2, task_timeout_ms: 100, abort_grace_ms: 200 } } }));
    const io = tm.async("io");
    expect(await io.run("callVia", ["cpu", "spin", 5000])).toEqual(["ok", "aborted"]); // polled ctx.signal.aborted
    const [code] = (await io.run("callVia", ["cpu", "busyIgnoring", 5000])) as string[];
    expect(code).toBe("ERR_WORKER_CRASHED"); // replaced after the grace period
    expect(tm.compute("cpu").metrics().replaced).toBe(1);
    expect(await io.run("fibVia", ["cpu", 10])).toBe(55);
  });

  test("a thread's abort of a running task that ignores it: the thread is replaced after abort_grace_ms; counted as cancelled, crashes as crashed", async () => {
    const tm = await m.start(config({ compute: { cpu: { module: CROSS, static_threads: 1, max_threads: 1, abort_grace_ms: 200 } } }));
    const io = tm.async("io");
    const cpu = tm.compute("cpu");
    expect(await io.run("abortAfter", ["cpu", "busyIgnoring", 60_000, 50])).toEqual(["TimeoutError"]);
    await until(() => cpu.metrics().replaced === 1, 5000, "the stuck thread replaced");
    const got = (await io.run("crashVia", ["cpu", 1])) as Array<[string, unknown]>;
    expect(got[0]![0]).toBe("WorkerCrashedError");
    await until(() => cpu.pending === 0 && cpu.metrics().crashed === 1, 5000, "settled");
    const after = cpu.metrics();
    expect(after.cancelled).toBe(1);
    expect(after.failed).toBe(0);
    expect(after.submitted).toBe(after.completed + after.failed + after.cancelled + after.crashed + after.dropped + after.pending);
  });

  test("max_queue_per_thread: a thread's tasks in flight per pool; past it PoolBusyError", async () => {
    const small = await m.start(config());
    const e = (await small.async("io").run("errorOf", ["compute", "cpu", "echo", 0])) as string[];
    expect(e[0]).toBe("none");
    const busy = await rejection(small.async("io").run("fanOut", ["cpu", 2000, 0]));
    expect(busy.originalCode).toBe("ERR_POOL_BUSY");
    expect(busy.message).toContain("1024");
    await until(() => small.compute("cpu").metrics().rejected.busy === 976, 5000, "the thread's refusals counted"); // 2000 - 1024
    await small.close();
    const big = await m.start(config({ compute: { cpu: { module: CROSS, static_threads: 2, max_threads: 2, max_queue_per_thread: 4096 } } }));
    const got = (await big.async("io").run("fanOut", ["cpu", 4000, 0])) as number[];
    expect(got.length).toBe(4000);
    expect(got.every((v, i) => v === i)).toBe(true);
  });
});
