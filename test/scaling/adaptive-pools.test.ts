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

describe.skipIf(CORES < 2)("dynamic threads", () => {
  test("a step from idle to steady load unparks the dynamic thread within 2 ticks of the manager seeing it", async () => {
    const { pool: cpu } = await pool({ static_threads: 1, dynamic_threads: 1, max_threads: 2 });
    await until(() => (cpu.metrics().scaler?.ticks ?? 0) >= 3, 5000, "3 idle ticks");
    expect(cpu.metrics().threadsByRole.dynamic).toEqual({ running: 0, parked: 1, exited: 0 });
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
    const names = tm.threads().filter((t) => t.role === "standalone" && t.status !== "exited").map((t) => t.name);
    for (const n of names) expect(n).toMatch(/^cpu-x[2-7]$/);
    // Load stopped: standalone threads exit after 400 ms idle, the dynamic one parks after 100 ms.
    await until(() => {
      const r = cpu.metrics().threadsByRole;
      return r.standalone.running + r.standalone.parked === 0 && r.dynamic.parked === 1;
    }, 5000, "standalone threads to exit and the dynamic one to park");
    const byRole = cpu.metrics().threadsByRole;
    expect(byRole.standalone.exited).toBe(6);
    expect(cpu.metrics().scaler).toMatchObject({ spawned: 6, spawnFailures: 0, retired: 6 });
    expect(tm.threads().filter((t) => t.role === "standalone" && t.status === "exited").length).toBe(6);
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
      writeFileSync(FLAG, "1"); // threads started from now on fail to load the module
      const results = await Promise.all(Array.from({ length: 12 }, () => flaky.run("block", 60)));
      expect(results).toEqual(Array(12).fill(60));
      await until(() => (flaky.metrics().scaler?.spawnFailures ?? 0) >= 1, 5000, "a failed spawn");
      const logged = errors.mock.calls.map((c) => c.join(" ")).join("\n");
      expect(logged).toContain('pool "flaky"');
      expect(logged).toContain("refusing to load");
      expect(flaky.metrics().threadsByRole.static.running + flaky.metrics().threadsByRole.static.parked).toBe(1);
      expect(await flaky.run("block", 1)).toBe(1);
    } finally {
      rmSync(FLAG, { force: true });
      errors.mockRestore();
    }
  }, 30_000);
});

describe("async pools scale too", () => {
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
