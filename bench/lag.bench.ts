/**
 * Main-thread event-loop lag under sustained load. A `setInterval(10)` timer records its lateness,
 * actual - expected, where expected is its previous tick + 10 ms (Bun re-arms an interval from the
 * tick that fired, so a late tick does not make the next one early), while the main thread keeps
 * IN_FLIGHT (256) small tasks in flight for DURATION_MS (5 s): `echo({ a: i, b: "x" })`, each
 * completion launching the next, every result checked. Contenders, 2 threads each, one after the
 * other with the same load and the same warm-up (the same load for WARM_MS, untimed, no timer):
 * bun-thread-manager and piscina. For context, first the timer alone with no load (both pools
 * started and idle).
 *
 * Two loads: saturating (IN_FLIGHT in flight, each completion launching the next: as fast as each
 * contender goes) and paced (PACED_RATE tasks/s for every contender, launched from a setImmediate
 * loop: what the same traffic costs each main thread). Ours runs twice saturated: on shared cores
 * (2 pool threads, the default) and dedicated (main and Bun's helpers on core 0, one pool thread on
 * core 1), the placement this library exists for.
 *
 * When the load stops, a tick still pending counts with its lateness so far, so a timer starved for
 * the whole run shows up as one huge lateness (and few ticks) rather than as no data.
 *
 * Reported per row: tasks/s (tasks done / load time, drain included), ticks seen (of about
 * DURATION_MS / 10), lateness p50 / p99 / max in ms. A load whose in-flight tasks have not all
 * settled DRAIN_DEADLINE_MS after it stopped launching is reported "hung".
 *
 * Run: bun run bench/lag.bench.ts      QUICK=1: 1 s per row (smoke run, ~5 s in all).
 */
import { createPeer } from "./lib/peers.ts";
import { formatRate } from "./lib/throughput.ts";

const QUICK = process.env.QUICK === "1";
const THREADS = 2;
const IN_FLIGHT = 256;
const INTERVAL_MS = 10;
const DURATION_MS = QUICK ? 1_000 : 5_000;
const WARM_MS = QUICK ? 200 : 1_000;
const DRAIN_DEADLINE_MS = 10_000;
const OURS = "bun-thread-manager";
const PACED_RATE = 20_000;

type Contender = { name: string; run(handler: "echo", arg: unknown): Promise<unknown>; paced?: boolean };
type Row = { name: string; tasksPerSec?: number; ticks: number; p50: number; p99: number; max: number; note?: string };

/** Starts the 10 ms timer; stop() returns every lateness in ms (a pending, overdue tick included). */
function lagProbe(): { stop(): number[] } {
  const late: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    late.push(now - last - INTERVAL_MS);
    last = now;
  }, INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      const overdue = performance.now() - last - INTERVAL_MS;
      if (overdue > 0) late.push(overdue);
      return late;
    },
  };
}

/**
 * Keeps IN_FLIGHT echo tasks in flight until `ms` have passed (checked with performance.now(), not
 * a timer, so a starved event loop still ends the load), then waits for the rest. Resolves with
 * the tasks done and the time taken; rejects on the first wrong result or failed task.
 */
async function load(c: Contender, ms: number, stop: { now: boolean }): Promise<{ done: number; ms: number }> {
  const t0 = performance.now();
  const end = t0 + ms;
  let next = 0;
  let done = 0;
  let failure: unknown;
  const one = async (i: number) => {
    const r = (await c.run("echo", { a: i, b: "x" })) as { a?: unknown; b?: unknown } | null;
    if (r === null || typeof r !== "object" || r.a !== i || r.b !== "x") {
      failure ??= new Error(`${c.name}: echo({ a: ${i}, b: "x" }) gave ${JSON.stringify(r)}`);
    }
    done++;
  };
  const lane = async () => {
    while (!stop.now && failure === undefined && performance.now() < end) await one(next++);
  };
  if (c.paced) {
    const inFlight = new Set<Promise<void>>();
    while (!stop.now && failure === undefined && performance.now() < end) {
      const due = (PACED_RATE * (performance.now() - t0)) / 1000;
      while (next < due && inFlight.size < IN_FLIGHT) {
        const p: Promise<void> = one(next++).catch((e) => void (failure ??= e)).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(inFlight);
  } else {
    await Promise.all(Array.from({ length: IN_FLIGHT }, () => lane().catch((e) => void (failure ??= e))));
  }
  if (failure !== undefined) throw failure;
  return { done, ms: performance.now() - t0 };
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0];

/** load() bounded by its duration + DRAIN_DEADLINE_MS: "hung" past that (its tasks keep running). */
async function boundedLoad(c: Contender, ms: number): Promise<{ done: number; ms: number } | "hung"> {
  const stop = { now: false };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const work = load(c, ms, stop);
  work.catch(() => {});
  const deadline = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), ms + DRAIN_DEADLINE_MS)));
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    stop.now = true;
  }
}

function summarize(name: string, late: number[], extra: Partial<Row> = {}): Row {
  const s = [...late].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN);
  return { name, ticks: s.length, p50: q(0.5), p99: q(0.99), max: s.length ? s[s.length - 1]! : NaN, ...extra };
}

async function measureLoad(c: Contender): Promise<Row> {
  const warm = await boundedLoad(c, WARM_MS).then(
    (v) => (v === "hung" ? "hung during warm-up" : undefined),
    (e: unknown) => `error during warm-up: ${firstLine(e)}`,
  );
  if (warm) return { name: c.name, ticks: 0, p50: NaN, p99: NaN, max: NaN, note: warm };
  const probe = lagProbe();
  const r = await boundedLoad(c, DURATION_MS).then(
    (v) => v,
    (e: unknown) => ({ error: e }),
  );
  const late = probe.stop();
  if (r === "hung") return summarize(c.name, late, { note: `hung: tasks in flight did not settle ${DRAIN_DEADLINE_MS} ms after the load stopped` });
  if ("error" in r) return summarize(c.name, late, { note: `error: ${firstLine(r.error)}` });
  return summarize(c.name, late, { tasksPerSec: (r.done * 1000) / r.ms });
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "—");

// ---- pools ----
type Started = Contender & { close(): Promise<unknown> };
/** Ours; `dedicated`: main (and Bun's helpers) on core 0, one pool thread on core 1. */
async function startOurs(name: string, dedicated: boolean, paced = false): Promise<Started> {
  // Imported here, not at the top: a library that fails to load (mid-change) fails only its own rows.
  const { ThreadManager } = await import("../src/index.ts");
  const module = new URL("./fixtures/bench-handlers.ts", import.meta.url);
  const tm = await ThreadManager.start(dedicated
    ? {
      default_core_allocation: { DedicatedCoreSet: { min: 0, max: 1 } },
      runtime: { core_allocation: { DedicatedCoreSet: { min: 0, max: 1 } } },
      compute: { cpu: { module, static_threads: 1, max_threads: 1, core_allocation: { DedicatedCoreSet: { min: 1, max: 2 } } } },
    }
    : { compute: { cpu: { module, static_threads: THREADS, max_threads: THREADS } } });
  const pool = tm.compute("cpu");
  return { name, paced, run: (h, arg) => pool.run(h, arg), close: () => tm.close({ drain: false, timeoutMs: 2000 }) };
}

async function startPiscina(name: string, paced = false): Promise<Started> {
  const peer = await createPeer("piscina", THREADS);
  return { name, paced, run: (h, arg) => peer.run(h, arg), close: () => peer.close() };
}

// Started one at a time, right before their row, closed right after: a dedicated-core row must not
// share its cores with another contender's idle threads.
const starters: [string, () => Promise<Started>][] = [
  [`${OURS}, saturating, shared cores`, () => startOurs(`${OURS}, saturating, shared cores`, false)],
  [`${OURS}, saturating, dedicated cores`, () => startOurs(`${OURS}, saturating, dedicated cores`, navigator.hardwareConcurrency >= 2)],
  ["piscina, saturating", () => startPiscina("piscina, saturating")],
  [`${OURS}, ${PACED_RATE / 1000}k tasks/s`, () => startOurs(`${OURS}, ${PACED_RATE / 1000}k tasks/s`, false, true)],
  [`piscina, ${PACED_RATE / 1000}k tasks/s`, () => startPiscina(`piscina, ${PACED_RATE / 1000}k tasks/s`, true)],
];
const title = `Event-loop lag (Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, ${THREADS} threads, ${IN_FLIGHT} in flight, ${DURATION_MS / 1000} s per row${QUICK ? ", QUICK" : ""})`;
console.log(`${title}: setInterval(${INTERVAL_MS}), load echo({ a: i, b: "x" })`);

const started: Started[] = [];
const rows: Row[] = [];
let failed = false;

try {
  {
    const probe = lagProbe();
    await Bun.sleep(DURATION_MS);
    rows.push(summarize("no load", probe.stop()));
  }
  for (const [name, start] of starters) {
    let row: Row;
    try {
      const c = await start();
      started.push(c);
      row = await measureLoad(c);
      await Promise.race([c.close().catch(() => {}), Bun.sleep(5_000)]);
      started.pop();
    } catch (e) {
      row = { name, ticks: 0, p50: NaN, p99: NaN, max: NaN, note: `could not start: ${firstLine(e)}` };
    }
    if (row.note) failed = true;
    rows.push(row);
    console.log(`  ${row.name.padEnd(20)} ${row.note ?? `${formatRate(row.tasksPerSec!)}, lateness p99 ${ms(row.p99)} ms, max ${ms(row.max)} ms`}`);
  }

  const expectTicks = Math.round(DURATION_MS / INTERVAL_MS);
  console.log(
    `\n### ${title}\n\n| load | tasks/s | ticks (of ~${expectTicks}) | lateness p50 (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|---|---|\n` +
      rows
        .map((r) => `| ${r.name} | ${r.tasksPerSec === undefined ? "—" : formatRate(r.tasksPerSec)} | ${r.ticks} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} |`)
        .join("\n"),
  );
  for (const r of rows) if (r.note) console.log(`- ${r.name}: ${r.note}`);
} finally {
  // Bounded: a pool with hung tasks may never finish closing.
  await Promise.all(started.map((c) => Promise.race([c.close().catch(() => {}), Bun.sleep(5_000)])));
}
if (failed) process.exit(1);
