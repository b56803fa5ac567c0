/**
 * Batches of tiny tasks (`add([i, 1])`, 2 threads): one call for many tasks. bun-thread-manager's
 * `pool.map` beside the raw postMessage pool doing the same batch by hand (one message per item,
 * one promise for all, bench/lib/peers.ts), and both doing it as `Promise.all` over one call per
 * item, with piscina's `Promise.all` for reference; the same mitata run, the same warm-up.
 * Every result is checked.
 *
 * Run: bun run bench/batch.bench.ts      QUICK=1: smaller batches and fewer samples.
 */
import { bench, group, run } from "mitata";
import { ThreadManager } from "../src/index.ts";
import { createPeer } from "./lib/peers.ts";
import { formatRate, moves, printThroughput } from "./lib/throughput.ts";

const QUICK = process.env.QUICK === "1";
const THREADS = 2;
const BATCH = QUICK ? 2_000 : 10_000;
const OURS = "bun-thread-manager";

const tm = await ThreadManager.start({
  compute: { cpu: { module: new URL("./fixtures/bench-handlers.ts", import.meta.url), static_threads: THREADS, max_threads: THREADS } },
});
const raw = await createPeer("raw postMessage", THREADS);
const piscina = await createPeer("piscina", THREADS);
const args = Array.from({ length: BATCH }, (_, i) => [i, 1] as [number, number]);

function check(name: string, out: unknown[]): void {
  for (let i = 0; i < BATCH; i++) if (out[i] !== i + 1) throw new Error(`${name}: add([${i}, 1]) gave ${String(out[i])}`);
}

try {
  const pool = tm.compute("cpu");
  const contenders: Array<[string, () => Promise<unknown[]>]> = [
    [`${OURS}: map`, () => pool.map("add", args)],
    [`${OURS}: Promise.all(run)`, () => Promise.all(args.map((a) => pool.run("add", a)))],
    ["raw postMessage: batch by hand", () => raw.map!("add", args)],
    ["raw postMessage: Promise.all(run)", () => Promise.all(args.map((a) => raw.run("add", a)))],
    ["piscina: Promise.all(run)", () => Promise.all(args.map((a) => piscina.run("add", a)))],
  ];
  for (const [name, fn] of contenders) for (let k = 0; k < 3; k++) check(name, await fn()); // warm-up + check

  group(`batch of ${BATCH} add([i, 1]), ${THREADS} threads`, () => {
    for (const [name, fn] of contenders) {
      bench(moves(name, BATCH), async () => check(name, await fn()));
    }
  });
  const results = await run({ throw: true, colors: process.stdout.isTTY === true });
  printThroughput(results, `Batches (Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, ${THREADS} threads${QUICK ? ", QUICK" : ""})`);
  const avg = new Map<string, number>();
  for (const t of results.benchmarks) for (const r of t.runs) if (r.stats) avg.set(r.name, r.stats.avg);
  const rate = (name: string) => (BATCH * 1e9) / avg.get(name)!;
  const ours = rate(`${OURS}: map`);
  console.log(
    `\n- map: ${formatRate(ours)} = **${(ours / rate("raw postMessage: batch by hand")).toFixed(1)}x** the raw pool's batch by hand, ` +
      `${(ours / rate("raw postMessage: Promise.all(run)")).toFixed(1)}x its Promise.all(run), ` +
      `${(ours / rate(`${OURS}: Promise.all(run)`)).toFixed(2)}x our own Promise.all(run)`,
  );
} finally {
  await Promise.allSettled([raw.close(), piscina.close()]);
  await tm.close();
}
