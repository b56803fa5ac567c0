/**
 * Shared-memory core benchmarks (mitata): single-thread costs of the injector, deque and arena, and
 * cross-thread throughput main -> 2 workers through the injector, side by side in the same run with
 * plain postMessage (one message per item, and batched). Run: bun run bench/shm.bench.ts
 */
import { bench, do_not_optimize, group, run } from "mitata";
import { DequeOwner, DequeStealer, Injector, PayloadArena, PoolQueues, allocateDeque } from "../src/shm/index.ts";
import { moves, printThroughput } from "./lib/throughput.ts";

const RW = 4; // words per record: [handler, arg, arg, task id], what a pool task needs
const CONSUMER = new URL("./fixtures/shm-consumer.ts", import.meta.url);
const WORKERS = 2;

// ---- single thread ----
const inj = Injector.allocate({ capacity: 1024, recordWords: RW });
const dequeRef = allocateDeque({ capacity: 256, recordWords: RW });
const owner = new DequeOwner(dequeRef);
const thief = new DequeStealer(dequeRef);
const arena = PayloadArena.allocate();
const one = Int32Array.of(1, 2, 3, 4);
const out = new Int32Array(64 * RW);
const batch64 = new Int32Array(64 * RW).fill(7);

group("single thread (one record = 4 words)", () => {
  bench("injector push + pop", () => {
    inj.push(one);
    do_not_optimize(inj.pop(out));
  });
  bench(moves("injector pushBatch + popBatch, 64 records", 64), () => {
    inj.pushBatch(batch64, 0, 64);
    do_not_optimize(inj.popBatch(out, 0, 64));
  });
  bench("deque push + pop (owner)", () => {
    owner.push(one);
    do_not_optimize(owner.pop(out));
  });
  bench("deque push + steal", () => {
    owner.push(one);
    do_not_optimize(thief.steal(out));
  });
  bench("arena tryAlloc(48) + free", () => {
    arena.free(arena.tryAlloc(48));
  });
});

// ---- cross thread: main -> 2 workers ----
const pool = PoolQueues.allocate({ workers: WORKERS, recordWords: RW, injectorCapacity: 1 << 16, dequeCapacity: 256 });
const counters = new Int32Array(new SharedArrayBuffer(WORKERS * 32 * 4));
const nap = new Int32Array(new SharedArrayBuffer(4));
const finderWorkers = Array.from({ length: WORKERS }, (_, index) => {
  const w = new Worker(CONSUMER);
  w.postMessage({ mode: "finder", index, queues: pool.refs, counters: counters.buffer });
  return w;
});
const consumed = () => {
  let n = 0;
  for (let i = 0; i < WORKERS; i++) n += Atomics.load(counters, i * 32);
  return n;
};
/** Yields the core for ~50 us: the main thread must not spin against two busy workers on 2 cores. */
const yieldCore = () => Atomics.wait(nap, 0, 0, 0.05);

function pushAll(n: number, batch: number): void {
  const target = consumed() + n;
  const src = new Int32Array(batch * RW);
  for (let i = 0; i < batch; i++) src.set([1, i, 0, i], i * RW);
  let sent = 0;
  while (sent < n) {
    const k = Math.min(batch, n - sent);
    const m = batch === 1 ? (pool.submit(src) ? 1 : 0) : pool.submitBatch(src, 0, k).published;
    if (m === 0) yieldCore();
    sent += m;
  }
  while (consumed() < target) yieldCore();
}

const postWorkers = Array.from({ length: WORKERS }, () => new Worker(CONSUMER));
await Promise.all(
  postWorkers.map((w) => new Promise<void>((resolve) => {
    w.onmessage = () => resolve();
    w.postMessage({ mode: "post" });
  })),
);
async function postAll(n: number, perMessage: number): Promise<void> {
  const messages = Math.ceil(n / perMessage);
  const done = postWorkers.map((w, i) => {
    const share = Math.floor(messages / WORKERS) + (i < messages % WORKERS ? 1 : 0);
    w.postMessage({ begin: perMessage === 1 ? share : share * perMessage });
    return new Promise<void>((resolve) => (w.onmessage = () => resolve()));
  });
  const chunk = new Int32Array(perMessage * RW).fill(1);
  for (let m = 0; m < messages; m++) {
    postWorkers[m % WORKERS]!.postMessage(perMessage === 1 ? m : chunk);
  }
  await Promise.all(done);
}

const BIG = 1 << 20;
const SMALL = 100_000;
group(`cross thread: main -> ${WORKERS} workers`, () => {
  bench(moves("injector, batches of 256, 1M items", BIG), () => pushAll(BIG, 256));
  bench(moves("injector, batches of 32, 1M items", BIG), () => pushAll(BIG, 32));
  bench(moves("injector, one push + notify per item, 100k items", SMALL), () => pushAll(SMALL, 1));
  bench(moves("postMessage, one message per item, 100k items", SMALL), () => postAll(SMALL, 1));
  bench(moves("postMessage, Int32Array of 256 records per message, 1M items", BIG), () => postAll(BIG, 256));
});

const results = await run({ colors: process.stdout.isTTY === true });
printThroughput(results, `Throughput (Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores)`);

pool.shutdown();
for (const w of [...finderWorkers, ...postWorkers]) w.terminate();
