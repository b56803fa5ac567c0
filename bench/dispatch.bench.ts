/**
 * Dispatch cost of tiny tasks (`add([a, b])`, 2 threads everywhere): bun-thread-manager side by
 * side with piscina, tinypool, poolifier, workerpool ("web" workers) and a raw postMessage pool
 * (bench/lib/peers.ts), in the same mitata run.
 *
 * - Throughput: a sliding window of 256 tasks in flight (each completion launches the next) until
 *   N tasks are done; N = 1M for us, 100k for the peers (tasks/s is per task, so comparable).
 *   Every result is checked; a wrong one fails the run.
 * - Hot round trip: `await run("add", [i, 1])` one after another, one in flight; one mitata sample
 *   is one round trip (see `perCall`), so p50 is the median round trip for every contender.
 * - Idle round trip: the same single round trip after a 2 ms sleep, so the workers have parked;
 *   only the run is timed (performance.now() around it, the sleep outside), contenders
 *   interleaved, next to an Atomics.wait/notify ping-pong with one worker after the same gap, both
 *   blocking (Atomics.wait) and awaited (Atomics.waitAsync, which comes back through the event
 *   loop as every promise-returning call must).
 *
 * Run: bun run bench/dispatch.bench.ts      QUICK=1: ~20x smaller counts (well under a minute).
 */
import { bench, group, run } from "mitata";
import { ThreadManager } from "../src/index.ts";
import { createPeers, createPingPong, type PeerPool } from "./lib/peers.ts";
import { formatRate, moves, printThroughput } from "./lib/throughput.ts";

const QUICK = process.env.QUICK === "1";
const THREADS = 2;
const IN_FLIGHT = 256;
const OURS_N = QUICK ? 50_000 : 1_000_000;
const PEER_N = QUICK ? 5_000 : 100_000;
const IDLE_GAP_MS = 2;
const IDLE_WARMUP = QUICK ? 5 : 20;
const IDLE_SAMPLES = QUICK ? 50 : 1000;
const OURS = "bun-thread-manager";
const PINGPONG = "Atomics ping-pong (floor)";
const PINGPONG_ASYNC = "Atomics ping-pong, awaited (waitAsync: the floor of a promise)";

type Contender = { name: string; run(handler: "add", arg: [number, number]): Promise<unknown> };

/** Keeps `IN_FLIGHT` tasks outstanding until `total` are done; throws if any result is wrong. */
async function slidingWindow(c: Contender, total: number): Promise<void> {
  let next = 0;
  let wrong = 0;
  let firstWrong = "";
  const lane = async () => {
    while (next < total) {
      const i = next++;
      const r = await c.run("add", [i, 1]);
      if (r !== i + 1 && wrong++ === 0) firstWrong = `add([${i}, 1]) gave ${String(r)}`;
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, total) }, lane));
  if (wrong > 0) throw new Error(`${c.name}: ${wrong} of ${total} results wrong (first: ${firstWrong})`);
}

async function roundTrip(c: Contender, i: number): Promise<void> {
  const r = await c.run("add", [i, 1]);
  if (r !== i + 1) throw new Error(`${c.name}: add([${i}, 1]) gave ${String(r)}`);
}

/**
 * A mitata benchmark whose every sample is exactly one call, timed here with Bun.nanoseconds().
 * Plain `bench(name, fn)` averages batches of 4096 calls per sample when a call takes under 65 us,
 * so its p50 would be the median of batch means for fast contenders and of single calls for slow
 * ones. This uses mitata's `manual` generator yield (in lib.mjs of the pinned mitata 1.0.34, not in
 * its README or types): no batching, the sample is the time the function returns.
 */
function perCall(fn: () => Promise<void> | void) {
  return function* () {
    yield {
      async manual() {
        const t0 = Bun.nanoseconds();
        const r = fn();
        if (r) await r;
        return Bun.nanoseconds() - t0;
      },
    } as unknown as () => unknown;
  };
}

/** "2.3x faster" / "1.4x slower": how `ours` compares with `theirs` for a lower-is-better time. */
function faster(ours: number, theirs: number): string {
  return ours <= theirs ? `${(theirs / ours).toFixed(1)}x faster` : `${(ours / theirs).toFixed(1)}x slower`;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

function fmtTime(ns: number): string {
  if (!Number.isFinite(ns)) return "—";
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

// ---- pools ----
const tm = await ThreadManager.start({
  compute: { cpu: { module: new URL("./fixtures/bench-handlers.ts", import.meta.url), static_threads: THREADS, max_threads: THREADS } },
});
let peers: PeerPool[] = [];
let pingPong: Awaited<ReturnType<typeof createPingPong>> | undefined;

try {
  const pool = tm.compute("cpu");
  const ours: Contender = { name: OURS, run: (h, arg) => pool.run(h, arg) };
  peers = await createPeers(THREADS);
  pingPong = await createPingPong();
  const pp = pingPong;
  const contenders: Contender[] = [ours, ...peers];
  await slidingWindow(ours, 10_000); // warm up + check before anything is timed

  const tputName = (c: Contender) => {
    const n = c === ours ? OURS_N : PEER_N;
    return moves(`${c.name}: ${n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`} adds, ${IN_FLIGHT} in flight`, n);
  };
  const hotName = (name: string) => `${name}: hot round trip`;

  group(`throughput: add([i, 1]), ${IN_FLIGHT} in flight, ${THREADS} threads`, () => {
    for (const c of contenders) {
      const n = c === ours ? OURS_N : PEER_N;
      bench(tputName(c), () => slidingWindow(c, n));
    }
  });

  group("hot round trip: one awaited add at a time", () => {
    for (const c of contenders) {
      let i = 0;
      bench(hotName(c.name), perCall(() => roundTrip(c, i++)));
    }
    bench(hotName(PINGPONG), perCall(() => pp.roundTrip()));
    bench(hotName(PINGPONG_ASYNC), perCall(() => pp.roundTripAsync()));
  });

  const results = await run({ throw: true, colors: process.stdout.isTTY === true });
  const stats = new Map<string, NonNullable<(typeof results.benchmarks)[number]["runs"][number]["stats"]>>();
  for (const t of results.benchmarks) for (const r of t.runs) if (r.stats) stats.set(r.name, r.stats);

  // ---- idle round trip: sleep first (untimed), then time one run; contenders interleaved ----
  const idle = new Map<string, number[]>([...contenders.map((c) => [c.name, []] as [string, number[]]), [PINGPONG, []], [PINGPONG_ASYNC, []]]);
  for (let s = 0; s < IDLE_WARMUP + IDLE_SAMPLES; s++) {
    for (const c of contenders) {
      await Bun.sleep(IDLE_GAP_MS);
      const t0 = performance.now();
      await roundTrip(c, s);
      const ns = (performance.now() - t0) * 1e6;
      if (s >= IDLE_WARMUP) idle.get(c.name)!.push(ns);
    }
    await Bun.sleep(IDLE_GAP_MS);
    const t0 = performance.now();
    pp.roundTrip();
    const ns = (performance.now() - t0) * 1e6;
    if (s >= IDLE_WARMUP) idle.get(PINGPONG)!.push(ns);
    await Bun.sleep(IDLE_GAP_MS);
    const t1 = performance.now();
    await pp.roundTripAsync();
    if (s >= IDLE_WARMUP) idle.get(PINGPONG_ASYNC)!.push((performance.now() - t1) * 1e6);
  }
  const idleP = new Map<string, { p50: number; p99: number }>();
  for (const [name, xs] of idle) {
    xs.sort((a, b) => a - b);
    idleP.set(name, { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) });
  }

  // ---- report ----
  const title = `Dispatch (Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, ${THREADS} threads${QUICK ? ", QUICK" : ""})`;
  printThroughput(results, `${title}: throughput`);

  const tput = (c: Contender) => {
    const st = stats.get(tputName(c));
    return st ? ((c === ours ? OURS_N : PEER_N) * 1e9) / st.avg : NaN;
  };
  const hot = (name: string) => stats.get(hotName(name))?.p50 ?? NaN;
  const rows = contenders.map((c) => {
    const i = idleP.get(c.name)!;
    return `| ${c.name} | ${formatRate(tput(c))} | ${fmtTime(hot(c.name))} | ${fmtTime(i.p50)} | ${fmtTime(i.p99)} |`;
  });
  const ppIdle = idleP.get(PINGPONG)!;
  const ppAsyncIdle = idleP.get(PINGPONG_ASYNC)!;
  for (const [name, i] of [[PINGPONG, ppIdle], [PINGPONG_ASYNC, ppAsyncIdle]] as const) {
    rows.push(`| ${name} | — | ${fmtTime(hot(name))} | ${fmtTime(i.p50)} | ${fmtTime(i.p99)} |`);
  }
  console.log(
    `\n### ${title}\n\n` +
      `| contender | tasks/s (${IN_FLIGHT} in flight, avg) | hot round trip p50 | idle round trip p50 | idle round trip p99 |\n` +
      `|---|---|---|---|---|\n${rows.join("\n")}\n`,
  );

  const best = <T>(xs: T[], key: (x: T) => number, lower: boolean) =>
    xs.reduce((a, b) => ((lower ? key(b) < key(a) : key(b) > key(a)) ? b : a));
  const bestTput = best(peers, tput, false);
  const bestHot = best(peers, (p) => hot(p.name), true);
  const bestIdle = best(peers, (p) => idleP.get(p.name)!.p50, true);
  const oursIdle = idleP.get(OURS)!.p50;
  console.log(
    [
      `- throughput: ${OURS} ${formatRate(tput(ours))} = **${(tput(ours) / tput(bestTput)).toFixed(1)}x** the best peer (${bestTput.name}, ${formatRate(tput(bestTput))})`,
      `- hot round trip p50: ${fmtTime(hot(OURS))} vs best peer ${fmtTime(hot(bestHot.name))} (${bestHot.name}): **${faster(hot(OURS), hot(bestHot.name))}**; ours / ping-pong = ${(hot(OURS) / hot(PINGPONG)).toFixed(2)}`,
      `- idle round trip p50: ${fmtTime(oursIdle)} vs best peer ${fmtTime(idleP.get(bestIdle.name)!.p50)} (${bestIdle.name}): **${faster(oursIdle, idleP.get(bestIdle.name)!.p50)}**`,
      `- idle round trip, ours / ping-pong p50: **${(oursIdle / ppIdle.p50).toFixed(2)}** (${fmtTime(oursIdle)} / ${fmtTime(ppIdle.p50)}), ${IDLE_SAMPLES} samples each after a ${IDLE_GAP_MS} ms sleep`,
      `- idle round trip, ours / awaited ping-pong p50: **${(oursIdle / ppAsyncIdle.p50).toFixed(2)}** (${fmtTime(oursIdle)} / ${fmtTime(ppAsyncIdle.p50)}); hot: ${(hot(OURS) / hot(PINGPONG_ASYNC)).toFixed(2)}`,
    ].join("\n"),
  );
} finally {
  pingPong?.close();
  await Promise.allSettled(peers.map((p) => p.close()));
  await tm.close();
}
