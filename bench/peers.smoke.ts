/**
 * Smoke check of the peer pools in bench/lib/peers.ts (seconds, not a benchmark). For each peer:
 * 1000 `add` tasks with 256 in flight, every result checked; one fib(20); one sumRange over a
 * 1000-element Float64Array on a SharedArrayBuffer. Then 1000 Atomics ping-pong round trips.
 * Prints one line per peer, closes everything and exits by itself (exit code 1 on any failure).
 * Run: bun run bench/peers.smoke.ts
 */
import { createPeers, createPingPong, type PeerPool } from "./lib/peers.ts";

const THREADS = 2;
const TIMEOUT_MS = 15_000;

async function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function expectEq(what: string, got: unknown, want: unknown): void {
  if (got !== want) throw new Error(`${what}: got ${String(got)}, want ${String(want)}`);
}

async function addWindow(pool: PeerPool, total: number, inFlight: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const i = next++;
      expectEq(`add([${i}, ${2 * i}])`, await pool.run("add", [i, 2 * i]), 3 * i);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

const N = 1000;
const sab = new SharedArrayBuffer(N * Float64Array.BYTES_PER_ELEMENT);
const f64 = new Float64Array(sab);
for (let i = 0; i < N; i++) f64[i] = i + 0.5;
const start = 100;
const end = 900;
let wantSum = 0;
for (let i = start; i < end; i++) wantSum += f64[i]!;

async function check(pool: PeerPool): Promise<void> {
  await addWindow(pool, 1000, 256);
  expectEq("fib(20)", await pool.run("fib", 20), 6765);
  expectEq("sumRange", await pool.run("sumRange", { sab, start, end }), wantSum);
}

let failed = 0;
const report = (name: string, ms: number, err?: unknown) => {
  if (err) failed++;
  const status = err ? `fail  ${(err as Error)?.message ?? String(err)}` : "ok";
  console.log(`${name.padEnd(16)} ${status.padEnd(4)}  (${ms.toFixed(0)} ms)`);
};

const t0 = performance.now();
let peers: PeerPool[] = [];
try {
  peers = await withTimeout(createPeers(THREADS), "createPeers");
} catch (err) {
  report("createPeers", performance.now() - t0, err);
}
for (const pool of peers) {
  const t = performance.now();
  try {
    await withTimeout(check(pool), pool.name);
    report(pool.name, performance.now() - t);
  } catch (err) {
    report(pool.name, performance.now() - t, err);
  }
}
await Promise.allSettled(peers.map((p) => withTimeout(p.close(), `${p.name} close`)));

{
  const t = performance.now();
  let pp: Awaited<ReturnType<typeof createPingPong>> | undefined;
  try {
    pp = await withTimeout(createPingPong(), "pingPong");
    for (let i = 0; i < 1000; i++) pp.roundTrip();
    const ms = performance.now() - t;
    report("pingPong", ms);
  } catch (err) {
    report("pingPong", performance.now() - t, err);
  } finally {
    pp?.close();
  }
}

console.log(failed === 0 ? "all ok" : `${failed} failed`);
if (failed) process.exitCode = 1;
