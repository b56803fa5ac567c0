/**
 * Adaptive scaling under a load profile: idle, step, burst, blocking phase, idle. The same profile
 * runs through bun-thread-manager (static 1 + dynamic 1, max 8, the pool manager's 90 ms EMA rule),
 * piscina (minThreads 2, maxThreads 8, idleTimeout) and poolifier's DynamicThreadPool (2..8,
 * maxInactiveTime), one after the other in the same process, after the same warm-up.
 *
 * Phases (open loop: tasks are launched on a schedule, not when earlier ones finish):
 * - idle 1: nothing for IDLE_MS; CPU used meanwhile by every thread but main (/proc/self/task; the
 *   main thread runs the load generator and the thread-count sampler, the same for everyone).
 * - step: STEP_RATE tasks/s of spin(2 ms) for STEP_MS: 1.6 cores of work, so 2 threads are needed.
 * - burst: BURST tasks of spin(0.2 ms) at once.
 * - blocking: after the pool is back at rest (at most 2 threads, or 5 s), 100 tasks of
 *   block(200 ms) at once: 8 threads needed (2.5 s of work at best).
 * - idle 2: nothing for IDLE_MS after the load; extra threads retire (idle time IDLE_RETIRE_MS).
 * Per phase and contender: tasks completed, p50/p99 task latency (submit to settle), and for the
 * step and blocking phases the time until the pool had the threads needed (thread counts sampled
 * every 5 ms: ours from metrics(), piscina's `threads`, poolifier's `info.workerNodes`).
 *
 * Not a mitata benchmark: mitata repeats a function for a statistical sample; a profile is one
 * scripted run per contender (as bench/lag.bench.ts). Writes bench/scaling.svg (vega-lite): our
 * per-tick arrivals, EMA and threads by kind, with the peers' thread counts, over the profile.
 *
 * Run: bun run bench/scaling.bench.ts      QUICK=1: shorter phases (smoke run).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Piscina from "piscina";
import { DynamicThreadPool } from "poolifier";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { ThreadManager } from "../src/index.ts";
import type { TraceRecord } from "../src/scaling/scaling-trace.ts";

const QUICK = process.env.QUICK === "1";
const IDLE_MS = QUICK ? 500 : 2_000;
const STEP_MS = QUICK ? 500 : 1_500;
const STEP_RATE = 800;
const BURST = 2_000;
const BLOCKING = 100;
const BLOCK_MS = 200;
const MIN = 2;
const MAX = 8;
const IDLE_RETIRE_MS = 1_000;
const REST_MAX_MS = 5_000;
const peerFile = (f: string) => fileURLToPath(new URL(`./fixtures/peers/${f}`, import.meta.url));

type Handler = "spin" | "block";
interface Contender {
  name: string;
  run(h: Handler, ms: number): Promise<unknown>;
  /** Threads the pool has now (working or idle, not parked behind a gate). */
  threads(): number;
  close(): Promise<void>;
  trace?: () => TraceRecord[];
}

interface PhaseResult { phase: string; completed: number; p50: number; p99: number; reachMs?: number; cpuPct?: number; threadsAtEnd: number }

/**
 * CPU seconds used so far by every thread of the process except the main one (where the sampler and
 * the load generator run): getrusage (it keeps the time of threads that exited) minus the main
 * thread's time on CPU from /proc (schedstat, in ns).
 */
function poolCpuSeconds(): number {
  const all = process.cpuUsage();
  const main = Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e9;
  return (all.user + all.system) / 1e6 - main;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN;
}

async function ours(): Promise<Contender> {
  const tm = await ThreadManager.start({
    compute: {
      cpu: {
        module: new URL("./fixtures/bench-handlers.ts", import.meta.url), static_threads: 1, dynamic_threads: 1, max_threads: MAX,
        scaler: { standalone_idle_ms: IDLE_RETIRE_MS },
      },
    },
  });
  const pool = tm.compute("cpu");
  return {
    name: "bun-thread-manager",
    run: (h, ms) => pool.run(h, ms),
    threads: () => pool.metrics().threads.filter((t) => t.alive && !t.gated).length, // not the dynamic ones behind their gate
    close: () => tm.close(),
    trace: () => pool.scalingTrace(),
  };
}

function piscina(): Contender {
  const pool = new Piscina({ filename: peerFile("piscina.worker.ts"), minThreads: MIN, maxThreads: MAX, idleTimeout: IDLE_RETIRE_MS });
  return { name: "piscina", run: (h, ms) => pool.run(ms, { name: h }), threads: () => pool.threads.length, close: () => pool.destroy() };
}

async function poolifier(): Promise<Contender> {
  process.env.POOLIFIER_IDLE_MS = String(IDLE_RETIRE_MS); // read by the worker fixture
  const pool = new DynamicThreadPool<any, any>(MIN, MAX, peerFile("poolifier.worker.ts"), { errorHandler: (e) => console.error("poolifier:", e) });
  if (!pool.info.ready) await new Promise<void>((resolve) => pool.emitter?.once("ready", () => resolve()));
  return { name: "poolifier (dynamic)", run: (h, ms) => pool.execute(ms, h), threads: () => pool.info.workerNodes, close: () => pool.destroy() };
}

/**
 * Samples the thread count every 5 ms during load phases: (epoch ms, threads). Off while idle, so
 * the sampler's own allocations (and the GC helper threads they wake) are not billed to the pool.
 */
function sampler(c: Contender) {
  const samples: Array<{ t: number; n: number }> = [];
  let on = true;
  const take = () => samples.push({ t: performance.timeOrigin + performance.now(), n: c.threads() });
  const timer = setInterval(() => on && take(), 5);
  return { samples, stop: () => clearInterval(timer), pause: (paused: boolean) => { take(); on = !paused; } };
}

async function phase(c: Contender, name: string, samples: Array<{ t: number; n: number }>, body: (launch: (h: Handler, ms: number) => void) => Promise<void>, needed?: number): Promise<PhaseResult> {
  const latencies: number[] = [];
  const runs: Promise<unknown>[] = [];
  const cpu0 = poolCpuSeconds();
  const t0 = performance.now();
  const startEpoch = performance.timeOrigin + t0;
  await body((h, ms) => {
    const at = performance.now();
    runs.push(c.run(h, ms).then(() => latencies.push(performance.now() - at)));
  });
  await Promise.all(runs);
  const elapsed = performance.now() - t0;
  const cpu = poolCpuSeconds() - cpu0;
  latencies.sort((a, b) => a - b);
  const reached = needed === undefined ? undefined : samples.find((s) => s.t >= startEpoch && s.n >= needed);
  return {
    phase: name, completed: latencies.length, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99),
    reachMs: reached ? reached.t - startEpoch : needed === undefined ? undefined : NaN,
    cpuPct: runs.length === 0 ? (cpu * 1000 / elapsed) * 100 : undefined,
    threadsAtEnd: c.threads(),
  };
}

/** Between load phases: until the pool is back to its resting threads (or REST_MAX_MS), so each phase starts from rest. */
async function rest(c: Contender): Promise<void> {
  const end = performance.now() + REST_MAX_MS;
  while (c.threads() > MIN && performance.now() < end) await Bun.sleep(10);
}

async function profile(c: Contender): Promise<{ rows: PhaseResult[]; samples: Array<{ t: number; n: number }>; start: number }> {
  // Warm-up: every handler once on every thread the pool has at rest, then a pause.
  await Promise.all(Array.from({ length: 8 }, (_, i) => c.run(i % 2 ? "spin" : "block", 1)));
  await Bun.sleep(IDLE_RETIRE_MS + 500);
  const s = sampler(c);
  const start = performance.timeOrigin + performance.now();
  const rows: PhaseResult[] = [];
  s.pause(true);
  rows.push(await phase(c, "idle", s.samples, () => Bun.sleep(IDLE_MS)));
  s.pause(false);
  rows.push(await phase(c, "step", s.samples, async (launch) => {
    const end = performance.now() + STEP_MS;
    let due = performance.now();
    while (performance.now() < end) {
      while (due <= performance.now()) {
        launch("spin", 2);
        due += 1000 / STEP_RATE;
      }
      await Bun.sleep(1);
    }
  }, 2));
  rows.push(await phase(c, "burst", s.samples, async (launch) => {
    for (let i = 0; i < BURST; i++) launch("spin", 0.2);
  }));
  await rest(c);
  rows.push(await phase(c, "blocking", s.samples, async (launch) => {
    for (let i = 0; i < BLOCKING; i++) launch("block", BLOCK_MS);
  }, MAX));
  s.pause(true);
  rows.push(await phase(c, "idle after", s.samples, () => Bun.sleep(IDLE_MS)));
  s.stop();
  return { rows, samples: s.samples, start };
}

const fmt = (n: number | undefined, d = 1) => (n === undefined ? "" : Number.isNaN(n) ? "never" : n.toFixed(d));

const results: Array<{ name: string; rows: PhaseResult[]; samples: Array<{ t: number; n: number }>; start: number; trace?: TraceRecord[] }> = [];
for (const make of [ours, piscina, poolifier]) {
  const c = await make();
  const r = await profile(c);
  results.push({ name: c.name, ...r, trace: c.trace?.() });
  await c.close();
}

console.log(`\n### Scaling profile (Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores${QUICK ? ", QUICK" : ""})\n`);
console.log("| contender | phase | tasks | p50 ms | p99 ms | threads needed after ms | CPU while idle % | threads at end |");
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
for (const r of results) {
  for (const p of r.rows) {
    console.log(`| ${r.name} | ${p.phase} | ${p.completed} | ${fmt(p.p50)} | ${fmt(p.p99)} | ${fmt(p.reachMs, 0)} | ${fmt(p.cpuPct, 2)} | ${p.threadsAtEnd} |`);
  }
}

// The chart: our per-tick trace, and every contender's thread count over the profile.
const mine = results[0]!;
const values: Array<Record<string, unknown>> = [];
for (const r of mine.trace ?? []) {
  const s = (r.time - mine.start) / 1000;
  if (s < 0) continue;
  values.push({ s, series: "arrivals (tasks/ms)", v: r.rate, panel: "load" });
  values.push({ s, series: "EMA (tasks/ms)", v: r.currEma, panel: "load" });
  values.push({ s, kind: "static", v: r.static, panel: "ours" });
  values.push({ s, kind: "dynamic (unparked)", v: r.dynamicActive, panel: "ours" });
  values.push({ s, kind: "standalone", v: r.standalone, panel: "ours" });
}
for (const r of results) {
  for (let i = 0; i < r.samples.length; i += 4) values.push({ s: (r.samples[i]!.t - r.start) / 1000, contender: r.name, v: r.samples[i]!.n, panel: "peers" });
}
const x = { field: "s", type: "quantitative", title: "seconds into the profile" } as const;
const spec: TopLevelSpec = {
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  data: { values },
  vconcat: [
    { title: "bun-thread-manager: arrivals and EMA per 90 ms tick", width: 720, height: 140, transform: [{ filter: "datum.panel === 'load'" }], mark: "line",
      encoding: { x, y: { field: "v", type: "quantitative", title: "tasks/ms" }, color: { field: "series", type: "nominal" } } },
    { title: "bun-thread-manager: threads by kind per tick", width: 720, height: 140, transform: [{ filter: "datum.panel === 'ours'" }], mark: { type: "area", interpolate: "step-after" },
      encoding: { x, y: { field: "v", type: "quantitative", stack: "zero", title: "threads" }, color: { field: "kind", type: "nominal" } } },
    { title: "threads over time, every contender (sampled every 20 ms)", width: 720, height: 140, transform: [{ filter: "datum.panel === 'peers'" }], mark: { type: "line", interpolate: "step-after" },
      encoding: { x, y: { field: "v", type: "quantitative", title: "threads" }, color: { field: "contender", type: "nominal" } } },
  ],
};
const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
const out = fileURLToPath(new URL("./scaling.svg", import.meta.url));
writeFileSync(out, await view.toSVG());
console.log(`\nchart: ${out}`);
