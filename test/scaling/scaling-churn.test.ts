/**
 * Threads that come and go must not lose, repeat or leak anything: exactly-once while standalone
 * threads spawn and retire under bursts (1M tasks under STRESS=1), and spawn/retire churn with
 * threads, RSS and file descriptors read back from /proc (thousands of cycles under STRESS=1).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { managers, threadCount, until } from "../pools/helpers.ts";

const SCALING = new URL("../fixtures/scaling.ts", import.meta.url);
const STRESS = !!process.env.STRESS;
const m = managers();
afterEach(() => m.closeAll());

const fds = () => readdirSync("/proc/self/fd").length;

describe.skipIf(process.platform !== "linux")("threads coming and going", () => {
  test(`exactly once across spawn and retire: ${STRESS ? "1M" : "60k"} tasks in bursts, standalone threads retiring between them`, async () => {
    const tm = await m.start({
      compute: { cpu: { module: SCALING, static_threads: 1, dynamic_threads: 1, max_threads: 4, scaler: { interval_ms: 10, standalone_idle_ms: 15 } } },
    });
    const cpu = tm.compute("cpu");
    const total = STRESS ? 1_000_000 : 60_000;
    const counts = new Int32Array(new SharedArrayBuffer(total * 4));
    const burst = 5_000;
    for (let at = 0; at < total; at += burst) {
      const runs: Promise<unknown>[] = [];
      for (let i = at; i < Math.min(total, at + burst); i++) runs.push(cpu.run("mark", [counts, i]));
      // Every fourth burst also blocks the threads a little, so the manager spawns; the pauses let them retire.
      if ((at / burst) % 4 === 3) for (let k = 0; k < 6; k++) runs.push(cpu.run("block", 30));
      await Promise.all(runs);
      if ((at / burst) % 4 === 3) await Bun.sleep(40);
    }
    let lost = 0;
    let twice = 0;
    for (let i = 0; i < total; i++) {
      if (counts[i] === 0) lost++;
      else if (counts[i] !== 1) twice++;
    }
    expect({ lost, twice }).toEqual({ lost: 0, twice: 0 });
    const s = cpu.metrics().scaler!;
    expect(s.spawned).toBeGreaterThan(0);
    expect(s.retired).toBeGreaterThan(0);
    expect(cpu.metrics().crashed).toBe(0);
  }, STRESS ? 1_200_000 : 120_000);

  test(`spawn/retire churn: ${STRESS ? 2000 : 60} cycles of a standalone thread started for one task and retired; threads, RSS and fds come back`, async () => {
    // No static or dynamic thread: every task waits for the manager (starvation rule) to start a standalone thread.
    const tm = await m.start({
      compute: { cpu: { module: SCALING, static_threads: 0, dynamic_threads: 0, max_threads: 1, scaler: { interval_ms: 10, standalone_idle_ms: 1 } } },
    });
    const cpu = tm.compute("cpu");
    const cycles = STRESS ? 2000 : 60;
    const warm = 10;
    let baseThreads = 0;
    let baseFds = 0;
    let baseRss = 0;
    for (let i = 0; i < cycles + warm; i++) {
      if (i === warm) {
        Bun.gc(true);
        baseThreads = threadCount();
        baseFds = fds();
        baseRss = process.memoryUsage().rss;
      }
      const spawned = cpu.metrics().scaler!.spawned;
      expect((await cpu.run<{ thread: number }>("block", 0)).thread).toBe(0);
      await until(() => {
        const m = cpu.metrics();
        return m.scaler!.spawned > spawned && m.threadsByRole.standalone.running + m.threadsByRole.standalone.parked === 0;
      }, 5000, `cycle ${i}: a standalone thread started for the task, and retired`);
    }
    await until(() => threadCount() <= baseThreads, 5000, "thread count back to the baseline");
    Bun.gc(true);
    const grown = process.memoryUsage().rss - baseRss;
    const { spawned, retired, spawnFailures } = cpu.metrics().scaler!;
    expect({ spawned, retired, spawnFailures }).toEqual({ spawned: cycles + warm, retired: cycles + warm + 1, spawnFailures: 0 }); // + the thread started with the pool
    expect(fds()).toBeLessThanOrEqual(baseFds + 2);
    expect(grown).toBeLessThan((STRESS ? 256 : 128) << 20);
    console.log(`churn: ${cycles} cycles, RSS ${(grown / 2 ** 20).toFixed(1)} MiB over the baseline, threads ${threadCount()} (baseline ${baseThreads}), fds ${fds()} (baseline ${baseFds})`);
  }, STRESS ? 1_200_000 : 120_000);
});
