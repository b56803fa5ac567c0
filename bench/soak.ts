/**
 * Memory under steady load (issue: RSS grew ~20 MB/min under a 10-minute soak, and 100k shared
 * buffers passed once stayed in parked threads' heaps). Two phases, one process:
 *
 * 1. 100k distinct small SharedArrayBuffers, each passed to a compute task once; then the pool
 *    idles 3 s (its threads' idle upkeep collects). RSS before, after the burst, and after idling.
 * 2. SOAK_MINUTES (default 10) of mixed load: add, fib with joins, parallelFor over a shared array,
 *    async timers, strings of 1-10 KB, paced at about TARGET tasks/s. Every 10 s: RSS, open fds,
 *    threads; the RSS slope (least squares, MB/min) after the first WARMUP_MIN minutes.
 *
 * Run: bun run bench/soak.ts      SOAK_MINUTES=2 for a short check. Prints a markdown table.
 */
import { readdirSync } from "node:fs";
import { ThreadManager } from "../src/index.ts";

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const WARMUP_MIN = Math.min(2, MINUTES / 3);
const TARGET = Number(process.env.SOAK_RATE ?? 50_000); // tasks/s
const mb = () => process.memoryUsage.rss() / 2 ** 20;
const fds = () => readdirSync("/proc/self/fd").length;
const threads = () => readdirSync("/proc/self/task").length;

const tm = await ThreadManager.start({
  compute: { cpu: { module: new URL("./fixtures/soak-handlers.ts", import.meta.url).href, static_threads: 2, max_threads: 2 } },
  async: { io: { module: new URL("./fixtures/soak-handlers.ts", import.meta.url).href, worker_threads: 1, concurrency: 256 } },
});
const cpu = tm.compute("cpu");
const io = tm.async("io");

// Phase 1: 100k distinct shared buffers, passed once.
const start = mb();
for (let round = 0; round < 100; round++) {
  await Promise.all(Array.from({ length: 1000 }, (_, i) => cpu.run("firstWord", new Int32Array(new SharedArrayBuffer(64)).fill(round * 1000 + i))));
}
const afterBurst = mb();
Bun.gc(true);
await Bun.sleep(3000);
Bun.gc(true);
const afterIdle = mb();
console.log(`\n### 100k distinct SharedArrayBuffers passed once\n\n| RSS at start | after the burst | after 3 s idle |\n|---|---|---|\n| ${start.toFixed(0)} MB | ${afterBurst.toFixed(0)} MB | ${afterIdle.toFixed(0)} MB (retained ${(afterIdle - start).toFixed(0)} MB) |`);

// Phase 2: mixed load.
const shared = new Float64Array(new SharedArrayBuffer(8 * 100_000)).fill(1);
const samples: Array<{ t: number; rss: number; fds: number; threads: number; done: number }> = [];
let done = 0;
let errors = 0;
const t0 = performance.now();
const end = t0 + MINUTES * 60_000;
const tick = setInterval(() => samples.push({ t: (performance.now() - t0) / 60_000, rss: mb(), fds: fds(), threads: threads(), done }), 10_000);
const lanes = Array.from({ length: 64 }, async (_, lane) => {
  let i = 0;
  while (performance.now() < end) {
    const k = i++ % 8;
    try {
      if (k < 5) await cpu.run("add", [i, lane]);
      else if (k === 5) await cpu.run("fib", 18);
      else if (k === 6) await cpu.parallelFor("sum", 0, shared.length, { arg: shared, grain: 25_000 });
      else await io.run("echoLater", "s".repeat(1000 + (i % 9000)));
      done++;
    } catch {
      errors++;
    }
    // Pace: 64 lanes sharing TARGET tasks/s.
    if (i % 64 === 0) await Bun.sleep(Math.max(0, (64 * 64 * 1000) / TARGET - 1));
  }
});
await Promise.all(lanes);
clearInterval(tick);
const late = samples.filter((s) => s.t >= WARMUP_MIN);
const n = late.length;
const mean = (f: (s: (typeof late)[number]) => number) => late.reduce((a, s) => a + f(s), 0) / n;
const tm_ = mean((s) => s.t);
const rm = mean((s) => s.rss);
const slope = late.reduce((a, s) => a + (s.t - tm_) * (s.rss - rm), 0) / late.reduce((a, s) => a + (s.t - tm_) ** 2, 0);
console.log(`\n### ${MINUTES}-minute soak, ~${TARGET} tasks/s paced (add, fib(18) with joins, parallelFor, async strings 1-10 KB)\n`);
console.log(`tasks: ${done} (${(done / (MINUTES * 60)).toFixed(0)}/s), errors: ${errors}`);
console.log(`RSS slope after ${WARMUP_MIN} min: **${slope.toFixed(2)} MB/min** (${n} samples)\n`);
console.log("| minute | RSS MB | fds | threads | tasks |\n|---|---|---|---|---|");
for (const s of samples.filter((_, i) => i % 3 === 0 || i === samples.length - 1)) console.log(`| ${s.t.toFixed(1)} | ${s.rss.toFixed(0)} | ${s.fds} | ${s.threads} | ${s.done} |`);
await tm.close();
