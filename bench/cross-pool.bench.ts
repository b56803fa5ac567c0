/**
 * Pools calling pools (README, "Pools call pools"), side by side in one run:
 *
 * 1. HTTP with CPU work (`hashRounds`: 64 chained sha256 of the 1 KB POST body, ~0.1 ms): wrk
 *    against (a) Bun.serve on the main thread + poolHandler to a compute pool, (b) a serving pool
 *    whose routes call the compute pool from their own thread, (c) Bun.serve on the main thread +
 *    piscina. One compute thread (or piscina thread) and one server thread each; the regimes are
 *    alternated ROUNDS times after the same warm-up; req/s and p99 are the median over rounds.
 * 2. Tiny tasks (`add`) submitted by the main thread alone, then by main plus one and two async-pool
 *    threads at once (each keeping 256 in flight for DURATION_MS): aggregate tasks/s.
 * 3. One submit + completion, one in flight, 1000 in a row: from the main thread vs from a pool
 *    thread (mitata; per round trip = time / 1000).
 * 4. How a thread sitting in its event loop (a serving thread) learns that a completion came, as a
 *    ping-pong with a thread that blocks: Atomics.waitAsync, a MessagePort message, setImmediate
 *    polling, setTimeout(0) polling (mitata; one round trip per iteration).
 *
 * Run: bun run bench/cross-pool.bench.ts      QUICK=1: shorter runs (~1 minute).
 */
import { bench, group, run, summary } from "mitata";
import Piscina from "piscina";
import { fileURLToPath } from "node:url";
import { ThreadManager } from "../src/index.ts";
import { poolHandler } from "../src/serve.ts";
import { runLoad, hasWrk, type LoadResult } from "../examples/contention/load.ts";
import { formatRate } from "./lib/throughput.ts";

const QUICK = process.env.QUICK === "1";
const ROUNDS = QUICK ? 1 : 3;
const LOAD_S = QUICK ? 3 : 8;
const WARM_S = QUICK ? 1 : 2;
const DURATION_MS = QUICK ? 1000 : 3000;
const fixture = (f: string) => new URL(`./fixtures/cross-pool/${f}`, import.meta.url).href;
const BODY = 1024;

type Regime = { name: string; start(): Promise<{ url: string; close(): Promise<unknown> }> };

const cpuPool = { module: fixture("cpu.ts"), static_threads: 1, max_threads: 1 };

const regimes: Regime[] = [
  {
    name: "Bun.serve on main + poolHandler -> compute pool",
    async start() {
      const tm = await ThreadManager.start({ compute: { cpu: cpuPool } });
      const server = Bun.serve({ port: 0, routes: { "/hash": poolHandler(tm.compute("cpu"), "hashRounds", (req) => req.text()) } });
      return { url: new URL("/hash", server.url).href, close: async () => (server.stop(true), tm.close()) };
    },
  },
  {
    name: "serving pool (1 thread) -> compute pool, no main thread",
    async start() {
      const tm = await ThreadManager.start({ compute: { cpu: cpuPool }, async: { web: { serve: fixture("server.ts"), port: 0, worker_threads: 1 } } });
      return { url: new URL("/hash", tm.async("web").server!.url).href, close: () => tm.close() };
    },
  },
  {
    name: "Bun.serve on main + piscina (1 thread)",
    async start() {
      const pool = new Piscina({ filename: fileURLToPath(fixture("piscina-hash.worker.ts")), minThreads: 1, maxThreads: 1 });
      const server = Bun.serve({ port: 0, routes: { "/hash": async (req) => new Response(await pool.run(await req.text(), { name: "hashRounds" })) } });
      return { url: new URL("/hash", server.url).href, close: async () => (server.stop(true), pool.destroy()) };
    },
  },
];

async function http(): Promise<void> {
  if (!hasWrk()) {
    console.log("\n(HTTP part skipped: wrk not installed; apt-get install wrk)");
    return;
  }
  const results = new Map<string, LoadResult[]>(regimes.map((r) => [r.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const regime of regimes) {
      const { url, close } = await regime.start();
      const check = await (await fetch(url, { method: "POST", body: "x".repeat(BODY) })).text();
      if (check.length !== 64) throw new Error(`${regime.name}: bad answer ${check.slice(0, 80)}`);
      await runLoad(url, WARM_S, [], 32, "wrk", BODY);
      results.get(regime.name)!.push(await runLoad(url, LOAD_S, [], 32, "wrk", BODY));
      await close();
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\n### HTTP with CPU work: wrk -t1 -c32 -d${LOAD_S}s, POST ${BODY} B, ${ROUNDS} rounds alternated (median)\n`);
  console.log("| regime | req/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|");
  for (const [name, rs] of results) {
    console.log(`| ${name} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${(median(rs.map((r) => r.p50)) / 1000).toFixed(2)} | ${(median(rs.map((r) => r.p99)) / 1000).toFixed(2)} | ${rs.reduce((n, r) => n + r.errors, 0)} |`);
  }
}

/** Main keeps 256 adds in flight for `ms`; returns how many completed. */
async function mainFlood(run: (h: string, a: unknown) => Promise<unknown>, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  const lane = async () => {
    while (performance.now() < end) {
      if (typeof (await run("add", [done, 1])) !== "number") throw new Error("wrong result");
      done++;
    }
  };
  await Promise.all(Array.from({ length: 256 }, lane));
  return done;
}

async function aggregate(): Promise<void> {
  const tm = await ThreadManager.start({
    compute: { cpu: { module: fixture("cpu.ts"), static_threads: 2, max_threads: 2 } },
    async: { sub: { module: fixture("submitters.ts"), worker_threads: 2, concurrency: 4 } },
  });
  const cpu = tm.compute("cpu");
  const sub = tm.async("sub");
  const rows: string[] = [];
  await mainFlood((h, a) => cpu.run(h, a), 300); // warm-up, every contender below alike
  await Promise.all([sub.run("flood", [300, 256]), sub.run("flood", [300, 256])]);
  for (const threads of [0, 1, 2, 0, 1, 2].slice(0, QUICK ? 3 : 6)) {
    const t0 = performance.now();
    const counts = await Promise.all([
      mainFlood((h, a) => cpu.run(h, a), DURATION_MS),
      ...Array.from({ length: threads }, () => sub.run<number>("flood", [DURATION_MS, 256])),
    ]);
    const seconds = (performance.now() - t0) / 1000;
    const total = counts.reduce((a, b) => a + b, 0);
    rows.push(`| main${threads ? ` + ${threads} pool thread${threads > 1 ? "s" : ""}` : " alone"} | ${formatRate(total / seconds)} | ${counts.map((c) => formatRate(c / seconds)).join(" + ")} |`);
  }
  console.log(`\n### Tiny tasks: aggregate throughput, 2 compute threads, 256 in flight per submitter, ${DURATION_MS} ms each\n`);
  console.log("| submitters | tasks/s | per submitter |\n|---|---|---|");
  console.log(rows.join("\n"));
  await tm.close();
}

async function roundTrips(): Promise<void> {
  const tm = await ThreadManager.start({
    compute: { cpu: { module: fixture("cpu.ts"), static_threads: 1, max_threads: 1 } },
    async: { sub: { module: fixture("submitters.ts"), worker_threads: 1 } },
  });
  const cpu = tm.compute("cpu");
  const sub = tm.async("sub");
  const N = 1000;
  const expected = (N * (N - 1)) / 2 + N;
  summary(() => {
    group("one submit + completion, one in flight (x1000 per iteration)", () => {
      bench("from the main thread", async () => {
        let s = 0;
        for (let i = 0; i < N; i++) s += (await cpu.run("add", [i, 1])) as number;
        if (s !== expected) throw new Error("wrong sum");
      });
      bench("from a pool thread (async handler)", async () => {
        if ((await sub.run("pingLoop", N)) !== expected) throw new Error("wrong sum");
      });
    });
  });
  await run();
  await tm.close();
}

/** One mode at a time: a polling thread would hold a core while the others are measured. */
async function wakeOptions(): Promise<void> {
  const names: Record<string, string> = {
    waitAsync: "Atomics.waitAsync", port: "MessagePort message", immediate: "setImmediate polling (holds a core)", timeout: "setTimeout(0) polling",
  };
  for (const mode of Object.keys(names)) {
    const w = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(new URL("./fixtures/cross-pool/wake.worker.ts", import.meta.url).href);
    const { port1, port2 } = new MessageChannel();
    await new Promise<void>((resolve) => {
      worker.onmessage = () => resolve();
      worker.postMessage({ mode, buf: w.buffer, port: mode === "port" ? port2 : undefined }, mode === "port" ? [port2] : []);
    });
    let n = 0;
    bench(`wake a thread in its event loop: ${names[mode]}`, () => {
      n++;
      Atomics.store(w, 0, n);
      if (mode === "port") port1.postMessage(0);
      else Atomics.notify(w, 0);
      while (Atomics.load(w, 1) < n) Atomics.wait(w, 1, n - 1, 100);
    });
    await run();
    Atomics.store(w, 0, -1); // the pollers stop
    Atomics.notify(w, 0);
    worker.terminate();
    port1.close();
  }
}

console.log(`bun ${Bun.version}, ${navigator.hardwareConcurrency} cores${QUICK ? ", QUICK" : ""}`);
await http();
await aggregate();
await roundTrips();
await wakeOptions();
process.exit(0);
