/**
 * Adaptive scaling under a load profile: idle, step, burst, blocking phase, idle. The same profile
 * runs through bun-thread-manager (max 8, the pool manager's 90 ms EMA rule with its defaults;
 * once as static 1 + dynamic 1, once as static 1 + dynamic 7 with low_watermark 6),
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

interface PhaseResult { phase: string; completed: number; p50: number; p99: number; reachMs?: number; cpuPct?: number; threadsAtEnd: number; startEpoch: number }

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
  return scaled("bun-thread-manager", 1, {});
}

/**
 * The knobs for a faster ramp: 7 dynamic threads (started with the pool, behind their gates: an
 * unpark is a futex wake, where a standalone start is a Worker start on the main thread) and
 * low_watermark 6 (1 to 8 threads in two ticks).
 */
async function oursSteep(): Promise<Contender> {
  return scaled("bun-thread-manager (dynamic 7, low_watermark 6)", 7, { low_watermark: 6 });
}

async function scaled(name: string, dynamic: number, scaler: Record<string, number>): Promise<Contender> {
  const tm = await ThreadManager.start({
    compute: {
      cpu: {
        module: new URL("./fixtures/bench-handlers.ts", import.meta.url), static_threads: 1, dynamic_threads: dynamic, max_threads: MAX,
        scaler: { standalone_idle_ms: IDLE_RETIRE_MS, ...scaler },
      },
    },
  });
  const pool = tm.compute("cpu");
  return {
    name,
    run: (h, ms) => pool.run(h, ms),
    threads: () => pool.metrics().threads.filter((t) => t.alive && !t.gated).length, // not the dynamic ones behind their gate
    close: async () => void (await tm.close()),
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
    threadsAtEnd: c.threads(), startEpoch,
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
for (const make of [ours, oursSteep, piscina, poolifier]) {
  const c = await make();
  const r = await profile(c);
  results.push({ name: c.name, ...r, trace: c.trace?.() });
  await c.close();
}

/**
 * Spawn delay: a standalone thread is started on the main thread, so a busy main thread delays it.
 * A pool of 1 static thread (max 2) gets 4 tasks of block(150 ms); the manager asks for a thread at
 * its next tick. Either the main thread awaits (idle), or it runs a sync loop for BUSY_MS right
 * after submitting (no timer, no message meanwhile). Reported: metrics().scaler.spawnDelayMs.last,
 * from the manager's request to the thread's ready handshake.
 */
const BUSY_MS = 300;
async function spawnDelays(busy: boolean, rounds: number): Promise<number[]> {
  const tm = await ThreadManager.start({
    compute: { cpu: { module: new URL("./fixtures/bench-handlers.ts", import.meta.url), static_threads: 1, dynamic_threads: 0, max_threads: 2, scaler: { standalone_idle_ms: 20 } } },
  });
  const pool = tm.compute("cpu");
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const before = pool.metrics().scaler!.spawned;
    const runs = Array.from({ length: 4 }, () => pool.run("block", 150));
    await Bun.sleep(1); // published
    if (busy) {
      const until = performance.now() + BUSY_MS;
      while (performance.now() < until);
    }
    await Promise.all(runs);
    const m = pool.metrics().scaler!;
    if (m.spawned > before) out.push(m.spawnDelayMs.last);
    while (pool.metrics().threadsByRole.standalone.running + pool.metrics().threadsByRole.standalone.parked > 0) await Bun.sleep(5);
  }
  await tm.close();
  return out.sort((a, b) => a - b);
}
const idleDelays = await spawnDelays(false, QUICK ? 3 : 10);
const busyDelays = await spawnDelays(true, QUICK ? 3 : 10);

console.log(`\n### Scaling profile (Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores${QUICK ? ", QUICK" : ""})\n`);
console.log("| contender | phase | tasks | p50 ms | p99 ms | threads needed after ms | CPU while idle % | threads at end |");
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
for (const r of results) {
  for (const p of r.rows) {
    const latency = (v: number) => (p.completed === 0 ? "-" : fmt(v));
    console.log(`| ${r.name} | ${p.phase} | ${p.completed} | ${latency(p.p50)} | ${latency(p.p99)} | ${fmt(p.reachMs, 0)} | ${fmt(p.cpuPct, 2)} | ${p.threadsAtEnd} |`);
  }
}

console.log(`\n### Spawn delay: manager request to the standalone thread's ready handshake (started on the main thread)\n`);
console.log("| main thread | spawns | p50 ms | max ms |");
console.log("|---|---:|---:|---:|");
for (const [what, d] of [["idle (awaiting)", idleDelays], [`busy: a ${BUSY_MS} ms sync loop right after submitting`, busyDelays]] as const) {
  console.log(`| ${what} | ${d.length} | ${fmt(pct(d, 0.5))} | ${fmt(d[d.length - 1])} |`);
}

// The chart: our per-tick trace, and every contender's thread count over the profile.
const mine = results[0]!;
const x = { field: "s", type: "quantitative", title: "seconds into the profile" } as const;
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
for (const p of mine.rows) values.push({ s: (p.startEpoch - mine.start) / 1000, phase: p.phase, panel: "phases" });
/** A panel of ours with the phase starts marked. */
const withPhases = (title: string, layer: Record<string, unknown>) => ({
  title, width: 720, height: 140,
  layer: [
    layer,
    { transform: [{ filter: "datum.panel === 'phases'" }], mark: { type: "rule", strokeDash: [4, 4], color: "gray" }, encoding: { x } },
    { transform: [{ filter: "datum.panel === 'phases'" }], mark: { type: "text", align: "left", dx: 3, dy: -4, color: "gray" }, encoding: { x, y: { value: 0 }, text: { field: "phase" } } },
  ],
});
const spec = {
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  data: { values },
  resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
  config: { legend: { labelLimit: 320 } },
  vconcat: [
    withPhases("bun-thread-manager: arrivals and EMA per 90 ms tick (dashed: phase starts)", {
      transform: [{ filter: "datum.panel === 'load'" }], mark: "line",
      encoding: { x, y: { field: "v", type: "quantitative", title: "tasks/ms" }, color: { field: "series", type: "nominal", title: "" } },
    }),
    withPhases("bun-thread-manager: threads by kind after each tick", {
      transform: [{ filter: "datum.panel === 'ours'" }], mark: { type: "area", interpolate: "step-after" },
      encoding: { x, y: { field: "v", type: "quantitative", stack: "zero", title: "threads" }, color: { field: "kind", type: "nominal", title: "" } },
    }),
    {
      title: "threads over time, every contender (its own profile clock; dynamic threads behind their gate not counted)", width: 720, height: 140,
      transform: [{ filter: "datum.panel === 'peers'" }], mark: { type: "line", interpolate: "step-after" },
      encoding: { x, y: { field: "v", type: "quantitative", title: "threads" }, color: { field: "contender", type: "nominal", title: "" } },
    },
  ],
} as unknown as TopLevelSpec;
const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
const out = fileURLToPath(new URL("./scaling.svg", import.meta.url));
writeFileSync(out, await view.toSVG());
console.log(`\nchart: ${out}`);
