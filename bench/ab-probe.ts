/**
 * One A/B probe run (bench/ab.ts): a fixed set of measurements against the library at LIB (the
 * src/index.ts of a checkout), printed as one JSON line. Uses only API that every checkout since
 * 2026-11-23 has (ThreadManager.start, run, parallelFor, ctx.join), and writes its own handler
 * module, so old commits can be probed unchanged.
 *
 * Run: LIB=/path/to/checkout/src/index.ts bun run bench/ab-probe.ts
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const lib = process.env.LIB;
if (!lib) throw new Error("LIB must name a checkout's src/index.ts");
const QUICK = process.env.QUICK === "1";
const { ThreadManager } = await import(lib);

const dir = mkdtempSync(join(tmpdir(), "btm-ab-"));
const handlers = join(dir, "handlers.ts");
writeFileSync(
  handlers,
  `export function add([a, b]) { return a + b; }
export function echo(x) { return x; }
function fibSeq(n) { return n < 2 ? n : fibSeq(n - 1) + fibSeq(n - 2); }
export function fib(n, ctx) { if (n < 20) return fibSeq(n); const [a, b] = ctx.join(["fib", n - 1], ["fib", n - 2]); return a + b; }
export function joins(n, ctx) { let s = 0; for (let i = 0; i < n; i++) { const [a, b] = ctx.join(["add", [i, 1]], ["add", [i, 2]]); s += a + b; } return s; }
export function sum(start, end, data) { let s = 0; for (let i = start; i < end; i++) s += data[i]; return s; }
export function wait(ms) { const until = performance.now() + ms; while (performance.now() < until) {} return ms; }
export function stampWait(ms) { const at = performance.timeOrigin + performance.now(); const until = performance.now() + ms; while (performance.now() < until) {} return at; }
`,
);

const tm = await ThreadManager.start({
  compute: {
    two: { module: handlers, static_threads: 2, max_threads: 2 },
    one: { module: handlers, static_threads: 1, max_threads: 1 },
  },
});
const two = tm.compute("two");
const one = tm.compute("one");
const out: Record<string, number> = {};
const secs = QUICK ? 0.3 : 1.5;

/** Tasks/s with `inFlight` outstanding for `secs`. */
async function rate(run: (i: number) => Promise<unknown>, inFlight: number): Promise<number> {
  let done = 0;
  const end = performance.now() + secs * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await run(done);
      done++;
    }
  }));
  return done / ((performance.now() - t0) / 1000);
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;

await rate((i) => two.run("add", [i, 1]), 64); // warm-up
out["tiny tasks/s (256 in flight)"] = await rate((i) => two.run("add", [i, 1]), 256);
out["small object echo tasks/s (256 in flight)"] = await rate((i) => two.run("echo", { a: i, b: "x" }), 256);

const hot: number[] = [];
for (let i = 0; i < (QUICK ? 300 : 3000); i++) {
  const t0 = performance.now();
  await two.run("add", [i, 1]);
  hot.push((performance.now() - t0) * 1000);
}
out["hot round trip p50 (us)"] = median(hot.slice(100));

const idle: number[] = [];
for (let i = 0; i < (QUICK ? 60 : 400); i++) {
  await Bun.sleep(2);
  const t0 = performance.now();
  await two.run("add", [i, 1]);
  idle.push((performance.now() - t0) * 1000);
}
out["idle round trip p50 (us)"] = median(idle.slice(20));

for (const kib of [64, 1024]) {
  const bytes = new Uint8Array(kib * 1024).fill(7);
  out[`${kib} KiB echo tasks/s (32 in flight)`] = await rate(() => two.run("echo", bytes), 32);
}

const fibTime = async (pool: typeof two) => {
  const t0 = performance.now();
  await pool.run("fib", QUICK ? 27 : 30);
  return performance.now() - t0;
};
await fibTime(two);
const f1 = median([await fibTime(one), await fibTime(one), await fibTime(one)]);
const f2 = median([await fibTime(two), await fibTime(two), await fibTime(two)]);
out["fib speed-up 1 -> 2 threads (x)"] = f1 / f2;

const data = new Float64Array(new SharedArrayBuffer(8 * 4_000_000)).fill(1);
const pf = async (pool: typeof two) => {
  const t0 = performance.now();
  await pool.parallelFor("sum", 0, data.length, { arg: data, grain: 100_000 });
  return performance.now() - t0;
};
await pf(two);
out["parallelFor speed-up 1 -> 2 threads (x)"] = median([await pf(one), await pf(one), await pf(one)]) / median([await pf(two), await pf(two), await pf(two)]);

const J = QUICK ? 20_000 : 200_000;
await one.run("joins", 1000);
const j0 = performance.now();
await one.run("joins", J);
out["un-stolen join (ns, 1 thread, incl. 2 adds)"] = ((performance.now() - j0) * 1e6) / J;

// Wait behind a backlog (what oldest-first is for): one thread blocked 16 ms while 16 tasks of
// 1 ms arrive 1 ms apart, 8 cycles; each task's wait is its start minus its submission. The 16
// land in one injector batch: newest-first ran the second-oldest last.
const waits: number[] = [];
for (let cycle = 0; cycle < (QUICK ? 3 : 8); cycle++) {
  const pending: Promise<unknown>[] = [one.run("stampWait", 16)];
  for (let k = 0; k < 16; k++) {
    const at = performance.timeOrigin + performance.now();
    pending.push(one.run("stampWait", 1).then((started: number) => waits.push((started - at) * 1000)));
    await Bun.sleep(1);
  }
  await Promise.all(pending);
}
out["wait behind a backlog p50 (us)"] = median(waits);
out["wait behind a backlog max (us)"] = Math.max(...waits);

console.log(JSON.stringify(out));
await tm.close();
