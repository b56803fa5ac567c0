/**
 * Big binary arguments, copied and transferred: a fresh Uint8Array per task (what a server has when
 * it reads a body or a file: the bytes are new each time, and the caller is done with them), sent
 * to a handler that samples it and returns a number (`byteSum`), so the argument's way in is the
 * cost. Sizes 64 KiB, 1 MiB and 8 MiB; 2 threads each; 32 tasks in flight.
 *
 * Contenders, in the same process and run: bun-thread-manager `run(h, u)` (copied) and
 * `run(h, u, { transfer: [u.buffer] })`; raw postMessage to 2 Bun Workers, without and with the
 * transfer list; piscina, without and with `transferList`. Every contender allocates and fills the
 * same way (allocation is in every row). Rounds alternate the contenders' order; the table gives
 * each one's median tasks/s over the rounds and the ratio to raw postMessage (copied) of the same
 * round. A plain timed loop, not mitata's runner: 32 tasks in flight are a throughput, not a
 * per-call latency, and every contender is measured by the same loop after the same warm-up.
 *
 * Run: bun run bench/transfer.bench.ts   QUICK=1: a smoke run (numbers meaningless). ROUNDS=n.
 */
import { ThreadManager } from "../src/index.ts";
import { createPeer, type PeerPool } from "./lib/peers.ts";

const QUICK = process.env.QUICK === "1";
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 1 : 5));
const SECS = QUICK ? 0.2 : 1.5;
const WARM_SECS = QUICK ? 0.1 : 0.5;
const IN_FLIGHT = 32;
const SIZES = [64 << 10, 1 << 20, 8 << 20];
const HANDLERS = new URL("./fixtures/peers/handlers.ts", import.meta.url).pathname;

type Contender = { name: string; run(u: Uint8Array): Promise<unknown> };

const tm = await ThreadManager.start({ compute: { two: { module: HANDLERS, static_threads: 2, max_threads: 2 } } });
const ours = tm.compute("two");
const raw = await createPeer("raw postMessage", 2);
const piscina = await createPeer("piscina", 2);
const via = (p: PeerPool, transfer: boolean): Contender["run"] => (u) => p.run("byteSum", u, transfer ? [u.buffer as ArrayBuffer] : undefined);
const contenders: Contender[] = [
  { name: "bun-thread-manager, copied", run: (u) => ours.run("byteSum", u) },
  { name: "bun-thread-manager, transfer", run: (u) => ours.run("byteSum", u, { transfer: [u.buffer as ArrayBuffer] }) },
  { name: "raw postMessage, copied", run: via(raw, false) },
  { name: "raw postMessage, transfer", run: via(raw, true) },
  { name: "piscina, copied", run: via(piscina, false) },
  { name: "piscina, transferList", run: via(piscina, true) },
];

function fresh(bytes: number, i: number): Uint8Array {
  const u = new Uint8Array(bytes);
  for (let k = 0; k < bytes; k += 1024) u[k] = (i + k) & 255;
  return u;
}

/** Tasks/s with IN_FLIGHT outstanding for `secs`; every answer is checked. */
async function rate(c: Contender, bytes: number, secs: number): Promise<number> {
  let done = 0;
  let i = 0;
  const end = performance.now() + secs * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (performance.now() < end) {
      const u = fresh(bytes, i++);
      let want = 0;
      for (let k = 0; k < bytes; k += 1024) want += u[k]!;
      const got = await c.run(u);
      if (got !== want) throw new Error(`${c.name}: byteSum ${got}, expected ${want}`);
      done++;
    }
  }));
  return done / ((performance.now() - t0) / 1000);
}

const label = (b: number) => (b >= 1 << 20 ? `${b >> 20} MiB` : `${b >> 10} KiB`);
const results = new Map<string, { rates: number[]; ratios: number[] }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const bytes of SIZES) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    const got = new Map<string, number>();
    for (const c of order) {
      await rate(c, bytes, WARM_SECS);
      got.set(c.name, await rate(c, bytes, SECS));
    }
    const base = got.get("raw postMessage, copied")!;
    for (const [name, r] of got) {
      const key = `${label(bytes)}|${name}`;
      const row = results.get(key) ?? { rates: [], ratios: [] };
      row.rates.push(r);
      row.ratios.push(r / base);
      results.set(key, row);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (r: number) => (r >= 1000 ? `${(r / 1000).toFixed(1)} k/s` : `${r.toFixed(0)} /s`);
console.log(`Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, ${ROUNDS} rounds of ${SECS} s; medians`);
console.log("| size | contender | tasks/s | x raw postMessage (copied), same round (range) |");
console.log("|---|---|---|---|");
for (const [key, { rates, ratios }] of results) {
  const [size, name] = key.split("|");
  console.log(`| ${size} | ${name} | ${fmt(median(rates))} | ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}) |`);
}
await tm.close();
await raw.close();
await piscina.close();
