/**
 * Adaptive scaling on real threads, through the public API: dynamic threads unparked by the pool
 * manager, standalone threads spawned under blocking load and retiring after their idle time, an
 * idle pool that burns no CPU, a main thread that is blocked while the manager still unparks,
 * exactly-once across spawn and retire, and a standalone thread whose module fails to load.
 * Timing is judged in the manager's own ticks (its trace), not in wall-clock assertions.
 */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import type { ComputePoolConfig } from "../../src/index.ts";
import { CORES, managers, until } from "../pools/helpers.ts";

const SCALING = new URL("../fixtures/scaling.ts", import.meta.url);
const m = managers();
afterEach(() => m.closeAll());

type Ran = { thread: number; started: number };

async function pool(config: Partial<ComputePoolConfig>) {
  const tm = await m.start({ compute: { cpu: { module: SCALING, ...config } } });
  return { tm, pool: tm.compute("cpu") };
}

/** CPU time (utime + stime, clock ticks) of threads `tids`, from /proc/self/task/<tid>/stat. */
function cpuTicks(tids: number[]): number {
  let n = 0;
  for (const tid of tids) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    n += Number(f[11]) + Number(f[12]); // utime, stime: fields 14 and 15 (man 5 proc)
  }
  return n;
}

describe("scaler counters", () => {
  test("ticks are counted per case: the per-case counts add up to the ticks and match the trace, and Prometheus has one counter per case", async () => {
    const { pool: cpu, tm } = await pool({ static_threads: 1, dynamic_threads: 1, max_threads: 2 });
    const end = performance.now() + 500;
    await Promise.all(Array.from({ length: 3 }, async () => {
      while (performance.now() < end) await cpu.run("spin", 1);
    }));
    await Bun.sleep(300); // falling and steady ticks too
    let scaler = cpu.metrics().scaler!;
    let trace = cpu.scalingTrace();
    for (let i = 0; i < 100 && trace.length !== scaler.ticks; i++) {
      scaler = cpu.metrics().scaler!;
      trace = cpu.scalingTrace();
    }
    const byCase = scaler.ticksByCase;
    expect(Object.values(byCase).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(scaler.ticks);
    const fromTrace: Record<string, number> = {};
    for (const r of trace) fromTrace[r.case] = (fromTrace[r.case] ?? 0) + 1;
    for (const [c, n] of Object.entries(fromTrace)) expect(byCase[c]! - n).toBeLessThanOrEqual(1); // a tick may land between the reads
    expect(Object.keys(fromTrace).length).toBeGreaterThan(1);
    const lines = tm.prometheus().split("\n").filter((l) => l.startsWith('btm_scaler_ticks_total{pool="cpu"'));
    expect(new Set(lines.map((l) => /case="(\w+)"/.exec(l)![1])).size).toBe(lines.length); // one series per case
    expect(lines.length).toBe(6);
  }, 20_000);
});

describe.skipIf(CORES < 2)("dynamic threads", () => {
  test("a step from idle to steady load unparks the dynamic thread within 2 ticks of the manager seeing it", async () => {
    const { pool: cpu } = await pool({ static_threads: 1, dynamic_threads: 1, max_threads: 2 });
    await until(() => (cpu.metrics().scaler?.ticks ?? 0) >= 3, 5000, "3 idle ticks");
    expect(cpu.metrics().threadsByRole.dynamic).toEqual({ running: 0, parked: 1 });
    // Steady load: 4 tasks of 2 ms in flight for ~600 ms.
    const end = performance.now() + 600;
    const results: Ran[] = [];
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (performance.now() < end) results.push(await cpu.run<Ran>("spin", 2));
    }));
    const trace = cpu.scalingTrace();
    const seen = trace.findIndex((r) => r.arrivals > 0);
    const unparked = trace.findIndex((r, i) => i >= seen && r.dynamicActive > 0);
    expect(seen).toBeGreaterThan(0);
    expect(unparked - seen).toBeLessThanOrEqual(1); // the tick that saw the step (or the next) opened the gate
    expect(trace[unparked]!.unpark).toBe(1);
    expect(results.some((r) => r.thread === 1)).toBe(true); // and it ran tasks
  }, 20_000);

  test("a main thread blocked 500 ms in a sync loop does not delay the unpark: the dynamic thread starts a task meanwhile", async () => {
    const { pool: cpu } = await pool({ static_threads: 1, dynamic_threads: 1, max_threads: 2 });
    await until(() => (cpu.metrics().scaler?.ticks ?? 0) >= 2, 5000, "2 idle ticks");
    const runs = Array.from({ length: 8 }, () => cpu.run<Ran>("block", 100));
    await Bun.sleep(5); // the batch is published
    const blockedFrom = performance.timeOrigin + performance.now();
    const until500 = performance.now() + 500;
    while (performance.now() < until500); // the main thread is busy: no timers, no messages
    const blockedTo = performance.timeOrigin + performance.now();
    const results = await Promise.all(runs);
    const onDynamic = results.filter((r) => r.thread === 1 && r.started > blockedFrom && r.started < blockedTo);
    expect(onDynamic.length).toBeGreaterThan(0);
  }, 20_000);
});

describe("standalone threads", () => {
  test("100 handlers blocking 200 ms: threads grow by low_watermark a tick up to max_threads; then standalone ones exit and the dynamic one parks", async () => {
    const { tm, pool: cpu } = await pool({ static_threads: 1, dynamic_threads: 1, max_threads: 8, scaler: { standalone_idle_ms: 400 } });
    await until(() => (cpu.metrics().scaler?.ticks ?? 0) >= 2, 5000, "2 idle ticks");
    const results = await Promise.all(Array.from({ length: 100 }, () => cpu.run<Ran>("block", 200)));
    expect(results.length).toBe(100);
    const trace = cpu.scalingTrace();
    const threads = trace.map((r) => r.static + r.dynamicActive + r.standalone); // working threads after each tick
    const growth = threads.slice(1).map((n, i) => n - threads[i]!);
    expect(Math.max(...growth)).toBeLessThanOrEqual(2); // low_watermark (and max_spawn_per_tick) a tick
    expect(Math.max(...threads)).toBe(8);
    expect(trace.some((r) => r.case === "hog" && r.spawn > 0)).toBe(true);
    expect(new Set(results.map((r) => r.thread)).size).toBe(8);
    const live = tm.threads().filter((t) => t.role === "standalone" && t.status !== "exited");
    const staticThread = tm.threads().find((t) => t.role === "static")!;
    for (const t of live) {
      expect(t.name).toMatch(/^cpu-x[2-7]$/);
      expect([t.cores, t.policy]).toEqual([staticThread.cores, "BATCH"]); // every kind gets the pool's placement
    }
    // Load stopped: standalone threads exit after 400 ms idle, the dynamic one parks after 100 ms.
    await until(() => {
      const r = cpu.metrics().threadsByRole;
      return r.standalone.running + r.standalone.parked === 0 && r.dynamic.parked === 1;
    }, 5000, "standalone threads to exit and the dynamic one to park");
    expect(cpu.metrics().scaler).toMatchObject({ spawned: 6, spawnFailures: 0, retired: 6 });
    const exited = tm.threads().filter((t) => t.role === "standalone" && t.status === "exited");
    expect(exited.length).toBe(6);
    for (const t of exited) expect(t.name).toMatch(/^cpu-x[2-7]$/);
    expect(cpu.metrics().scaler!.spawnDelayMs.max).toBeGreaterThan(0); // the manager's request to the thread's ready
    // The pool still serves, and grows again.
    expect((await cpu.run<Ran>("block", 1)).thread).toBeGreaterThanOrEqual(0);
  }, 30_000);

  test("a standalone thread whose module fails to load: the spawn is abandoned with a logged error naming the pool, the pool serves on, metrics count it", async () => {
    const FLAKY = new URL("../fixtures/flaky-load.ts", import.meta.url);
    const { FLAG } = await import(FLAKY.href);
    const errors = spyOn(console, "error").mockImplementation(() => {});
    try {
      const tm = await m.start({ compute: { flaky: { module: FLAKY, static_threads: 1, dynamic_threads: 0, max_threads: 3 } } });
      const flaky = tm.compute("flaky");
      writeFileSync(FLAG, "throw"); // threads started from now on fail to load the module
      const results = await Promise.all(Array.from({ length: 12 }, () => flaky.run("block", 60)));
      expect(results).toEqual(Array(12).fill(60));
      await until(() => (flaky.metrics().scaler?.spawnFailures ?? 0) >= 1, 5000, "a failed spawn");
      const logged = errors.mock.calls.map((c) => c.join(" ")).join("\n");
      expect(logged).toContain('pool "flaky"');
      expect(logged).toContain("refusing to load");
      expect(logged).toContain("failed to start");
      expect(flaky.metrics().threadsByRole.static.running + flaky.metrics().threadsByRole.static.parked).toBe(1);
      expect(await flaky.run("block", 1)).toBe(1);
    } finally {
      rmSync(FLAG, { force: true });
      errors.mockRestore();
    }
  }, 30_000);
});

describe("faults and closing while threads come and go", () => {
  const FLAKY = new URL("../fixtures/flaky-load.ts", import.meta.url);
  const flag = async () => (await import(FLAKY.href)).FLAG as string;

  test("close({ drain: true }) drains a pool with no static or dynamic thread: the manager still starts one", async () => {
    const tm = await m.start({ compute: { cpu: { module: SCALING, static_threads: 0, dynamic_threads: 0, max_threads: 2, scaler: { standalone_idle_ms: 50 } } } });
    const cpu = tm.compute("cpu");
    await until(() => cpu.metrics().scaler!.retired === 1, 5000, "the thread started with the pool to retire");
    const runs = Array.from({ length: 10 }, (_, i) => cpu.run<Ran>("block", i));
    await tm.close({ drain: true, timeoutMs: 20_000 });
    expect((await Promise.all(runs)).length).toBe(10);
  }, 30_000);

  test("a static seat whose replacement fails to load is tried again (logged, counted) and serves once the module loads", async () => {
    const FLAG = await flag();
    const errors = spyOn(console, "error").mockImplementation(() => {});
    try {
      const tm = await m.start({ compute: { flaky: { module: FLAKY, static_threads: 1, dynamic_threads: 0, max_threads: 1 } } });
      const flaky = tm.compute("flaky");
      writeFileSync(FLAG, "throw");
      expect((await flaky.run("die").catch((e: Error) => e) as Error).name).toBe("WorkerCrashedError");
      await until(() => flaky.metrics().replaceFailures >= 1, 5000, "a failed replacement");
      const next = flaky.run("block", 1); // waits for the seat
      rmSync(FLAG, { force: true });
      expect(await next).toBe(1);
      expect(errors.mock.calls.map((c) => c.join(" ")).join("\n")).toContain('pool "flaky": the replacement for thread 0 failed to start');
    } finally {
      rmSync(FLAG, { force: true });
      errors.mockRestore();
    }
  }, 30_000);

  test("a buffer or long string first sent while a standalone thread still loads reaches it (its setup predates them)", async () => {
    const FLAG = await flag();
    try {
      const tm = await m.start({ compute: { flaky: { module: FLAKY, static_threads: 0, dynamic_threads: 0, max_threads: 2, scaler: { standalone_idle_ms: 50, interval_ms: 10 } } } });
      const flaky = tm.compute("flaky");
      await until(() => flaky.metrics().scaler!.retired === 1, 5000, "the thread started with the pool to retire");
      writeFileSync(FLAG, "slow");
      const first = flaky.run("touch", "x"); // the manager starts a thread within a tick; it loads for 500 ms
      await Bun.sleep(150);
      expect(flaky.metrics().scaler!.spawned).toBe(0); // still loading
      const counter = new Int32Array(new SharedArrayBuffer(4)); // never sent before
      const long = "y".repeat(40_000); // mailed as itself (>= 32 Ki units)
      // Before the fix both waited 30 s for mail the loading thread never got, then failed (ERR_SHARED_UNKNOWN).
      expect(await Promise.all([first, flaky.run("touch", counter), flaky.run("touch", long)])).toEqual([1, 1, 40_000]);
      expect(counter[0]).toBe(1);
    } finally {
      rmSync(FLAG, { force: true });
    }
  }, 40_000);

  test("a standalone thread whose module never finishes loading: close keeps its deadline; the pool is not stuck", async () => {
    const FLAG = await flag();
    const errors = spyOn(console, "error").mockImplementation(() => {});
    try {
      const tm = await m.start({ compute: { flaky: { module: FLAKY, static_threads: 1, dynamic_threads: 0, max_threads: 3, scaler: { interval_ms: 10 } } } });
      const flaky = tm.compute("flaky");
      writeFileSync(FLAG, "hang");
      const runs = Array.from({ length: 20 }, () => flaky.run("block", 20).catch((e) => e.name));
      await until(() => flaky.metrics().scaler!.spawnDelayMs.max > 0 || flaky.metrics().pending < 20, 5000, "the burst to start");
      expect(new Set(await Promise.all(runs))).toEqual(new Set([20])); // the static thread serves them all
      await tm.close({ drain: false, timeoutMs: 300 }); // with a thread still loading: must not wait for it past the deadline
    } finally {
      rmSync(FLAG, { force: true });
      errors.mockRestore();
    }
  }, 30_000);
});

describe("async pools scale too", () => {
  test("a thread with free task slots is not busy: long tasks below concurrency start no thread", async () => {
    const IO = new URL("../fixtures/io.ts", import.meta.url);
    const tm = await m.start({ async: { io: { module: IO, concurrency: 256, static_threads: 1, dynamic_threads: 0, max_threads: 4 } } });
    const io = tm.async("io");
    const runs = Array.from({ length: 3 }, () => io.run("hold", 600));
    const ticks = io.metrics().scaler!.ticks;
    await until(() => io.metrics().scaler!.ticks >= ticks + 4, 5000, "4 ticks");
    await Promise.all(runs);
    expect(io.metrics().scaler!.spawned).toBe(0);
  }, 30_000);

  test("tasks held 40 ms with concurrency 1: dynamic unparked, standalone spawned; afterwards they retire and park", async () => {
    const IO = new URL("../fixtures/io.ts", import.meta.url);
    const tm = await m.start({ async: { io: { module: IO, concurrency: 1, static_threads: 1, dynamic_threads: 1, max_threads: 4, scaler: { standalone_idle_ms: 200 } } } });
    const io = tm.async("io");
    await until(() => (io.metrics().scaler?.ticks ?? 0) >= 2, 5000, "2 idle ticks");
    const done = await Promise.all(Array.from({ length: 60 }, () => io.run("timer", 40)));
    expect(done.length).toBe(60);
    const most = Math.max(...io.scalingTrace().map((r) => r.static + r.dynamicActive + r.standalone));
    expect(most).toBe(4);
    expect(io.metrics().threads.filter((t) => t.executed > 0).length).toBe(4);
    await until(() => {
      const r = io.metrics().threadsByRole;
      return r.standalone.running + r.standalone.parked === 0 && r.dynamic.parked === 1;
    }, 5000, "standalone threads to exit and the dynamic one to park");
    expect(await io.run("timer", 1)).toBeDefined();
  }, 30_000);
});

describe.skipIf(process.platform !== "linux")("an idle pool", () => {
  test("static 1 + dynamic 1 (and the pool manager ticking) use under 1% of a core over 2 s", async () => {
    const { tm } = await pool({ static_threads: 1, dynamic_threads: 1, max_threads: 2 });
    await Bun.sleep(300); // start-up settles
    const tids = tm.threads().filter((t) => t.pool === "cpu" || t.role === "manager").map((t) => t.tid);
    expect(tids.length).toBe(3);
    const hz = 100; // USER_HZ
    const before = cpuTicks(tids);
    const t0 = performance.now();
    await Bun.sleep(2000);
    const seconds = (performance.now() - t0) / 1000;
    const used = (cpuTicks(tids) - before) / hz;
    expect(used / seconds).toBeLessThan(0.01);
  }, 20_000);
});
