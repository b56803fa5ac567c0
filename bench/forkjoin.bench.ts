/**
 * Fork-join on compute pools (mitata): how `ctx.join` and `parallelFor` scale from 1 to 2 threads,
 * next to the same work on the main thread and, for the parallel sum, chunked through piscina.
 *
 * - fib(30) with ctx.join down to n < 20 (then plain recursion), on a pool of 1 and of 2 threads;
 *   baseline: plain recursive fibSeq(30) on the main thread.
 * - Sum of a shared Float64Array of 8M (8 * 2^20) elements: parallelFor("sum", grain 65536) on 1
 *   and 2 threads; piscina with 1 and 2 threads given 2 * threads chunks (sumRange, Promise.all);
 *   the kernel on the main thread as baseline. Every result is checked.
 * - The VM's own ceiling for two threads: one fibSeq(30) task on the 2-thread pool against two at
 *   once (no joins, nothing shared): 2 * t(one) / t(two at once). On a VM whose two vCPUs do not
 *   give 2x, a fork-join speed-up is read against this, not against 2.
 * - Un-stolen join cost: fibJoinAll(25) (joins down to n < 2) against fibSeq(25), both timed
 *   inside the worker of the 1-thread pool (nothing is ever stolen, dispatch excluded):
 *   (t(joinAll) - t(seq)) / joins, joins = fib(26) - 1; beside it the floor, the same recursion
 *   through a plain function that looks both halves up by name and calls them (no pool).
 *
 * Run: bun run bench/forkjoin.bench.ts      QUICK=1: smaller sizes.
 */
import { bench, group, run } from "mitata";
import { ThreadManager } from "../src/index.ts";
import { fibSeq, sum } from "./fixtures/bench-handlers.ts";
import { createPeer, type PeerPool } from "./lib/peers.ts";

const QUICK = process.env.QUICK === "1";
const FIB_N = QUICK ? 27 : 30;
const FIB_CUTOFF = 20; // as in bench/fixtures/bench-handlers.ts
const SUM_N = QUICK ? 1 << 20 : 8 << 20;
const GRAIN = 65536;
const JOIN_N = QUICK ? 22 : 25;
const JOIN_WARMUP = 3;
const JOIN_REPS = QUICK ? 5 : 21;
const MODULE = new URL("./fixtures/bench-handlers.ts", import.meta.url);

function fibIter(n: number): number {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

function expectEq(what: string, got: unknown, want: unknown): void {
  if (got !== want) throw new Error(`${what}: got ${String(got)}, want ${String(want)}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function fmtMs(ns: number): string {
  if (!Number.isFinite(ns)) return "—";
  return ns >= 1e8 ? `${(ns / 1e6).toFixed(0)} ms` : `${(ns / 1e6).toFixed(2)} ms`;
}

const sizeLabel = (n: number) => (n % (1 << 20) === 0 ? `${n >> 20}M` : `${n}`);

const FIB_WANT = fibIter(FIB_N);
const data = new Float64Array(new SharedArrayBuffer(SUM_N * Float64Array.BYTES_PER_ELEMENT));
let SUM_WANT = 0;
for (let i = 0; i < SUM_N; i++) SUM_WANT += data[i] = i & 7; // small integers: exact in any order

const tm = await ThreadManager.start({
  compute: { one: { module: MODULE, static_threads: 1, max_threads: 1 }, two: { module: MODULE, static_threads: 2, max_threads: 2 } },
});
const peers: PeerPool[] = [];

try {
  const pools = { 1: tm.compute("one"), 2: tm.compute("two") } as const;
  peers.push(await createPeer("piscina", 1), await createPeer("piscina", 2));
  const piscina = { 1: peers[0]!, 2: peers[1]! } as const;

  /** The same sum through piscina: 2 * threads chunks, one sumRange task each. */
  async function piscinaSum(threads: 1 | 2): Promise<number> {
    const chunks = 2 * threads;
    const sab = data.buffer as SharedArrayBuffer;
    const parts = await Promise.all(
      Array.from({ length: chunks }, (_, k) =>
        piscina[threads].run("sumRange", { sab, start: Math.floor((k * SUM_N) / chunks), end: Math.floor(((k + 1) * SUM_N) / chunks) }),
      ),
    );
    return (parts as number[]).reduce((a, b) => a + b, 0);
  }

  const names = {
    fibMain: `fibSeq(${FIB_N}), main thread`,
    fib: (t: number) => `fib(${FIB_N}) ctx.join cutoff ${FIB_CUTOFF}, ${t} thread${t > 1 ? "s" : ""}`,
    sumMain: `sum ${sizeLabel(SUM_N)} f64, main thread`,
    pfor: (t: number) => `sum ${sizeLabel(SUM_N)} f64, parallelFor grain ${GRAIN}, ${t} thread${t > 1 ? "s" : ""}`,
    pisc: (t: number) => `sum ${sizeLabel(SUM_N)} f64, piscina ${2 * t} chunks, ${t} thread${t > 1 ? "s" : ""}`,
    seqOne: `fibSeq(${FIB_N}), one task on the 2-thread pool`,
    seqTwo: `2 x fibSeq(${FIB_N}) at once, 2-thread pool`,
  };

  // Check everything once before timing.
  expectEq(names.fibMain, fibSeq(FIB_N), FIB_WANT);
  for (const t of [1, 2] as const) {
    expectEq(names.fib(t), await pools[t].run("fib", FIB_N), FIB_WANT);
    expectEq(names.pfor(t), await pools[t].parallelFor("sum", 0, SUM_N, { grain: GRAIN, arg: data }), SUM_WANT);
    expectEq(names.pisc(t), await piscinaSum(t), SUM_WANT);
  }

  group(`fib(${FIB_N}): fork-join vs plain recursion`, () => {
    bench(names.fibMain, () => expectEq(names.fibMain, fibSeq(FIB_N), FIB_WANT));
    for (const t of [1, 2] as const) {
      bench(names.fib(t), async () => expectEq(names.fib(t), await pools[t].run("fib", FIB_N), FIB_WANT));
    }
    bench(names.seqOne, async () => expectEq(names.seqOne, await pools[2].run("fibSeq", FIB_N), FIB_WANT));
    bench(names.seqTwo, async () => {
      const [a, b] = await Promise.all([pools[2].run("fibSeq", FIB_N), pools[2].run("fibSeq", FIB_N)]);
      expectEq(names.seqTwo, a === b ? a : NaN, FIB_WANT);
    });
  });

  group(`sum of ${sizeLabel(SUM_N)} f64 on a SharedArrayBuffer`, () => {
    bench(names.sumMain, () => expectEq(names.sumMain, sum(0, SUM_N, data), SUM_WANT));
    for (const t of [1, 2] as const) {
      bench(names.pfor(t), async () =>
        expectEq(names.pfor(t), await pools[t].parallelFor("sum", 0, SUM_N, { grain: GRAIN, arg: data }), SUM_WANT),
      );
    }
    for (const t of [1, 2] as const) {
      bench(names.pisc(t), async () => expectEq(names.pisc(t), await piscinaSum(t), SUM_WANT));
    }
  });

  const results = await run({ throw: true, colors: process.stdout.isTTY === true });
  const p50 = new Map<string, number>();
  for (const tr of results.benchmarks) for (const r of tr.runs) if (r.stats) p50.set(r.name, r.stats.p50);
  const at = (name: string) => p50.get(name) ?? NaN;

  // ---- un-stolen join cost, timed inside the 1-thread pool's worker ----
  type Timed = { ms: number; value: number };
  const joinAllMs: number[] = [];
  const seqMs: number[] = [];
  const plainMs: number[] = [];
  const joinWant = fibIter(JOIN_N);
  for (let k = 0; k < JOIN_WARMUP + JOIN_REPS; k++) {
    const j = await pools[1].run<Timed>("timeJoinAll", JOIN_N);
    const s = await pools[1].run<Timed>("timeSeq", JOIN_N);
    const p = await pools[1].run<Timed>("timePlainJoinAll", JOIN_N);
    expectEq(`fibJoinAll(${JOIN_N})`, j.value, joinWant);
    expectEq(`fibSeq(${JOIN_N})`, s.value, joinWant);
    expectEq(`fibPlainJoinAll(${JOIN_N})`, p.value, joinWant);
    if (k >= JOIN_WARMUP) {
      joinAllMs.push(j.ms);
      seqMs.push(s.ms);
      plainMs.push(p.ms);
    }
  }
  const joins = fibIter(JOIN_N + 1) - 1; // internal nodes of the call tree (n >= 2)
  const joinAll = median(joinAllMs);
  const seq = median(seqMs);
  const plain = median(plainMs);
  const nsPerJoin = ((joinAll - seq) * 1e6) / joins;
  const nsPerPlainJoin = ((plain - seq) * 1e6) / joins;

  // ---- report ----
  const row = (what: string, main: number, one: number, two: number) =>
    `| ${what} | ${fmtMs(main)} | ${fmtMs(one)} | ${fmtMs(two)} | **${(one / two).toFixed(2)}x** | ${Number.isFinite(main) ? `${(main / two).toFixed(2)}x` : "—"} |`;
  console.log(
    `\n### Fork-join (Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores${QUICK ? ", QUICK" : ""}): mitata p50 per run\n\n` +
      `| workload | main thread | 1 thread | 2 threads | speedup 1->2 | 2 threads vs main |\n|---|---|---|---|---|---|\n` +
      [
        row(`fib(${FIB_N}), ctx.join down to n < ${FIB_CUTOFF} (main: fibSeq)`, at(names.fibMain), at(names.fib(1)), at(names.fib(2))),
        row(`sum ${sizeLabel(SUM_N)} f64, parallelFor grain ${GRAIN} (main: one kernel call)`, at(names.sumMain), at(names.pfor(1)), at(names.pfor(2))),
        row(`sum ${sizeLabel(SUM_N)} f64, piscina, 2 * threads chunks`, at(names.sumMain), at(names.pisc(1)), at(names.pisc(2))),
      ].join("\n") +
      `\n\n- The VM's ceiling for 2 threads (two independent fibSeq(${FIB_N}) at once against one): **${((2 * at(names.seqOne)) / at(names.seqTwo)).toFixed(2)}x**; ` +
      `fib's fork-join speed-up is ${((at(names.fib(1)) / at(names.fib(2))) / ((2 * at(names.seqOne)) / at(names.seqTwo))).toFixed(2)} of it.` +
      `\n\n### Un-stolen join cost (1-thread pool, timed in the worker, median of ${JOIN_REPS})\n\n` +
      `| fibJoinAll(${JOIN_N}) | fibSeq(${JOIN_N}) | joins | per join | the same through a plain function (no pool) | per plain join |\n|---|---|---|---|---|---|\n` +
      `| ${joinAll.toFixed(2)} ms | ${seq.toFixed(2)} ms | ${joins} | **${nsPerJoin.toFixed(0)} ns** | ${plain.toFixed(2)} ms | ${nsPerPlainJoin.toFixed(0)} ns |`,
  );
} finally {
  await Promise.allSettled(peers.map((p) => p.close()));
  await tm.close();
}
