/**
 * Payload cost: an `echo` handler (returns its argument) with payloads of 1 KiB, 64 KiB and 1 MiB,
 * as a string (ASCII: as many UTF-8 bytes as characters) and as a Uint8Array (copied both ways,
 * never shared or transferred: for the peers that is postMessage's structured clone), through
 * bun-thread-manager, piscina, poolifier (FixedThreadPool) and raw postMessage to Bun Workers
 * (bench/lib/peers.ts), 2 threads each, in the same run. 1 MiB is the default arena's largest block,
 * i.e. the largest value this library copies (above it: PayloadTooLargeError).
 *
 * Strings are not a copy-vs-copy comparison: Bun's postMessage / structured clone passes a string
 * by reference, also nested in an object (oven-sh/bun#21926; structuredClone({ arg }) of a 1 MiB
 * string takes ~0.4 us here, of a 1 MiB Uint8Array ~760 us), while this library encodes it into
 * the arena and decodes it back. The Uint8Array rows copy on every side.
 *
 * Every contender is measured the same way, in a plain loop timed with performance.now() (not
 * mitata's runner: a case that hangs could not be abandoned there):
 * - Per case (payload), contenders one after another: WARM untimed batches, then BATCHES timed ones.
 * - A batch: a sliding window of IN_FLIGHT (32) echo tasks, each completion launching the next,
 *   until N tasks are done. N depends on the payload size only, the same for every contender.
 * - tasks/s: timed tasks / timed batch time. p50 / p99: per-task round trip (run() called to its
 *   promise settled) over the timed batches, i.e. latency with 32 in flight, queueing included.
 * - Every result is checked (type, length, 3 sampled chars or bytes; a Uint8Array must come back as
 *   a new object); a wrong one fails the case.
 * - Per-case deadline (DEADLINE_MS): a case still running past it is reported "hung"; that
 *   contender is closed (bounded) and restarted for the next cases, or, if it cannot be, skipped.
 *
 * Run: bun run bench/payload.bench.ts      QUICK=1: a few seconds (smoke run, numbers meaningless).
 * Env: DEADLINE_MS overrides the per-case deadline (default 60000; QUICK: 10000).
 */
import { createPeer, type PeerName } from "./lib/peers.ts";
import { formatRate } from "./lib/throughput.ts";

const QUICK = process.env.QUICK === "1";
const THREADS = 2;
const IN_FLIGHT = 32;
const WARM = QUICK ? 1 : 2;
const BATCHES = QUICK ? 2 : 10;
const DEADLINE_MS = Number(process.env.DEADLINE_MS) || (QUICK ? 10_000 : 60_000);
const CLOSE_DEADLINE_MS = 5_000;
const OURS = "bun-thread-manager";
const PEERS: PeerName[] = ["piscina", "poolifier", "raw postMessage"];
const KiB = 1024;
const MiB = 1024 * KiB;
/** Tasks per batch, by payload size: enough that the window is full most of the batch. */
const SIZES: { bytes: number; label: string; n: number }[] = [
  { bytes: KiB, label: "1 KiB", n: QUICK ? 256 : 4096 },
  { bytes: 64 * KiB, label: "64 KiB", n: QUICK ? 128 : 1024 },
  { bytes: MiB, label: "1 MiB", n: QUICK ? 64 : 256 },
];

type Contender = { name: string; run(handler: "echo", arg: unknown): Promise<unknown>; close(): Promise<void> };
type Payload = { label: string; value: string | Uint8Array; n: number; check(r: unknown): boolean };
type Outcome =
  | { status: "ok"; tasksPerSec: number; p50: number; p99: number }
  | { status: "hung" | "error" | "skipped"; detail: string };

/** Resolves with p's outcome, or "timeout" after ms (p keeps running; its rejection is handled). */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<{ ok: T } | { err: unknown } | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  try {
    return await Promise.race([p.then((ok) => ({ ok }), (err: unknown) => ({ err })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const quantile = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split("\n")[0]!.slice(0, 160);

function makeString(bytes: number): string {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = 97 + (i % 26);
  return b.toString("latin1"); // a flat 8-bit string (String.prototype.repeat would make a rope)
}

function makeBytes(bytes: number): Uint8Array {
  const u = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) u[i] = (i * 31 + 7) & 255;
  return u;
}

function payloads(): Payload[] {
  const out: Payload[] = [];
  for (const { bytes, label, n } of SIZES) {
    const at = [0, bytes >> 1, bytes - 1];
    const s = makeString(bytes);
    out.push({
      label: `${label} string`,
      value: s,
      n,
      check: (r) => typeof r === "string" && r.length === bytes && at.every((k) => r.charCodeAt(k) === s.charCodeAt(k)),
    });
    const u = makeBytes(bytes);
    out.push({
      label: `${label} Uint8Array`,
      value: u,
      n,
      check: (r) => r instanceof Uint8Array && r !== u && r.byteLength === bytes && at.every((k) => r[k] === u[k]),
    });
  }
  return out;
}

async function createOurs(): Promise<Contender> {
  // Imported here, not at the top: a library that fails to load (mid-change) fails only its
  // own rows.
  const { ThreadManager } = await import("../src/index.ts");
  const tm = await ThreadManager.start({
    compute: { cpu: { module: new URL("./fixtures/bench-handlers.ts", import.meta.url), static_threads: THREADS, max_threads: THREADS } },
  });
  const pool = tm.compute("cpu");
  return { name: OURS, run: (h, arg) => pool.run(h, arg), close: async () => void (await tm.close({ drain: false, timeoutMs: 2000 })) };
}

const create = (name: string): Promise<Contender> => (name === OURS ? createOurs() : createPeer(name as PeerName, THREADS));

type Progress = { stop: boolean; done: number };

/**
 * One batch: IN_FLIGHT lanes until n tasks are done (or progress.stop). Per-task round trips go to
 * lat[latAt + i] when lat is given. Rejects with the first failure once every lane has stopped.
 */
async function batch(c: Contender, p: Payload, progress: Progress, lat?: Float64Array, latAt = 0): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < p.n && !progress.stop && failure === undefined) {
      const i = next++;
      const t0 = performance.now();
      const r = await c.run("echo", p.value);
      const dt = performance.now() - t0;
      if (lat) lat[latAt + i] = dt;
      progress.done++;
      if (!p.check(r)) {
        const got = typeof r === "string" ? `a string of ${r.length}` : r instanceof Uint8Array ? `${r.constructor.name}(${r.byteLength})` : String(r);
        failure ??= new Error(`wrong result: echo(${p.label}) gave ${got}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, p.n) }, () => lane().catch((e) => void (failure ??= e))));
  if (failure !== undefined) throw failure;
}

async function measure(c: Contender, p: Payload): Promise<Outcome> {
  const progress: Progress = { stop: false, done: 0 };
  const lat = new Float64Array(BATCHES * p.n);
  let timedMs = 0;
  const work = (async () => {
    for (let w = 0; w < WARM; w++) await batch(c, p, progress);
    for (let b = 0; b < BATCHES; b++) {
      const t0 = performance.now();
      await batch(c, p, progress, lat, b * p.n);
      timedMs += performance.now() - t0;
    }
  })();
  const r = await withDeadline(work, DEADLINE_MS);
  progress.stop = true;
  const total = (WARM + BATCHES) * p.n;
  if (r === "timeout") return { status: "hung", detail: `${progress.done} of ${total} tasks done after ${DEADLINE_MS} ms` };
  if ("err" in r) return { status: "error", detail: errText(r.err) };
  lat.sort();
  return { status: "ok", tasksPerSec: (BATCHES * p.n * 1000) / timedMs, p50: quantile(lat, 0.5) * 1e3, p99: quantile(lat, 0.99) * 1e3 };
}

/** Closes c within CLOSE_DEADLINE_MS; false if it did not. */
async function closeBounded(c: Contender): Promise<boolean> {
  const r = await withDeadline(c.close(), CLOSE_DEADLINE_MS);
  return r !== "timeout";
}

// ---- run ----
const title = `Payload echo (Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, ${THREADS} threads, ${IN_FLIGHT} in flight${QUICK ? ", QUICK" : ""})`;
console.log(`${title}: ${WARM} warm-up + ${BATCHES} timed batches per case, deadline ${DEADLINE_MS} ms per case`);

const names = [OURS, ...PEERS];
const live = new Map<string, Contender | undefined>(); // undefined: broken, its remaining cases are skipped
const whyBroken = new Map<string, string>();
const results: { contender: string; payload: string; outcome: Outcome }[] = [];
let bad = 0;

for (const name of names) {
  const r = await withDeadline(create(name), DEADLINE_MS);
  if (r === "timeout" || "err" in r) {
    whyBroken.set(name, `could not start: ${r === "timeout" ? `timed out after ${DEADLINE_MS} ms` : errText(r.err)}`);
    console.log(`${name}: ${whyBroken.get(name)}`);
    live.set(name, undefined);
    bad++;
  } else live.set(name, r.ok);
}

for (const p of payloads()) {
  for (const name of names) {
    const c = live.get(name);
    const outcome: Outcome = c ? await measure(c, p) : { status: "skipped", detail: whyBroken.get(name) ?? "" };
    results.push({ contender: name, payload: p.label, outcome });
    const line =
      outcome.status === "ok"
        ? `${formatRate(outcome.tasksPerSec)}, p50 ${outcome.p50.toFixed(0)} µs, p99 ${outcome.p99.toFixed(0)} µs`
        : `${outcome.status}: ${outcome.detail}`;
    console.log(`  ${p.label.padEnd(18)} ${name.padEnd(20)} ${line}`);
    if (c && outcome.status !== "ok") {
      bad++;
      // The pool may hold tasks that never settle: replace it (close bounded, then start anew).
      live.set(name, undefined);
      if (await closeBounded(c)) {
        const again = await withDeadline(create(name), DEADLINE_MS);
        if (again !== "timeout" && !("err" in again)) live.set(name, again.ok);
        else whyBroken.set(name, `restart after ${outcome.status} failed: ${again === "timeout" ? "timed out" : errText(again.err)}`);
      } else whyBroken.set(name, `close after ${outcome.status} did not finish in ${CLOSE_DEADLINE_MS} ms`);
      if (whyBroken.has(name)) console.log(`  ${name}: ${whyBroken.get(name)}; its remaining cases are skipped`);
    }
  }
}

// ---- report ----
const cell = (o: Outcome, k: "tasksPerSec" | "p50" | "p99") =>
  o.status !== "ok" ? (k === "tasksPerSec" ? o.status : "—") : k === "tasksPerSec" ? formatRate(o[k]) : o[k].toFixed(0);
console.log(
  `\n### ${title}\n\n| contender | payload | tasks/s | p50 (µs) | p99 (µs) |\n|---|---|---|---|---|\n` +
    results.map((r) => `| ${r.contender} | ${r.payload} | ${cell(r.outcome, "tasksPerSec")} | ${cell(r.outcome, "p50")} | ${cell(r.outcome, "p99")} |`).join("\n") +
    `\n\np50 / p99: per-task round trip with ${IN_FLIGHT} in flight (queueing included). Strings: the peers' ` +
    `postMessage passes them by reference (no copy); this library copies them. Uint8Array: copied by all.`,
);
for (const r of results) if (r.outcome.status !== "ok") console.log(`- ${r.contender}, ${r.payload}: ${r.outcome.status} (${r.outcome.detail})`);

await Promise.allSettled([...live.values()].map((c) => (c ? closeBounded(c) : undefined)));
// A hung pool may keep threads or handles alive: leave anyway.
process.exit(bad > 0 ? 1 : 0);
