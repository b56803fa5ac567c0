/** pool.map: many tasks under one promise, results in order, first error or every outcome, abort. */
import { afterEach, expect, spyOn, test } from "bun:test";
import { HandlerNotFoundError, InvalidArgumentError, PoolClosedError, TaskError } from "../../src/index.ts";
import { IO, MATH, managers, rejection } from "./helpers.ts";

const CALLERS = new URL("../fixtures/callers.ts", import.meta.url).href;
const CROSS = new URL("../fixtures/cross-math.ts", import.meta.url).href;
const STRESS = process.env.STRESS === "1";
const m = managers();
afterEach(() => m.closeAll());

const items = (n: number, counter: Int32Array, bad = -1, ms = 0) => Array.from({ length: n }, (_, i) => [counter, i, bad, ms]);

test("results come back in argument order, on compute and async pools, from arrays and iterables", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } }, async: { io: { module: IO, worker_threads: 1 } } });
  const args = Array.from({ length: 5000 }, (_, i) => [i, 1]);
  expect(await tm.compute("cpu").map("add", args)).toEqual(args.map(([a]) => a! + 1));
  expect(await tm.compute("cpu").map("echo", new Set(["a", "b", "c"]))).toEqual(["a", "b", "c"]);
  expect(await tm.async("io").map("echo", [1, 2, 3])).toEqual([1, 2, 3]);
  expect(await tm.compute("cpu").map("echo", [])).toEqual([]);
  expect(tm.compute("cpu").metrics().pending).toBe(0);
});

test("the first error rejects the batch with that item's error; items not yet run are cancelled", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1 } } });
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const e = await rejection(tm.compute("cpu").map("countOrFail", items(2000, counter, 3, 0.05)));
  expect(e).toBeInstanceOf(TaskError);
  expect(e.name).toBe("RangeError");
  expect(e.message).toBe("item 3 is bad");
  await Bun.sleep(100);
  expect(Atomics.load(counter, 0)).toBeLessThan(2000); // the rest were cancelled, not run
  expect(tm.compute("cpu").metrics().pending).toBe(0);
  expect(await tm.compute("cpu").run("echo", 7)).toBe(7); // the pool goes on
});

test("settle may be computed (a boolean the types accept); typed arrays are lists", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
  const mode: string = "settle";
  const out = await tm.compute("cpu").map<number>("echo", Int32Array.of(4, 5), { settle: mode === "settle" });
  expect(out).toEqual([{ status: "fulfilled", value: 4 }, { status: "fulfilled", value: 5 }]);
});

test("settle: true keeps every outcome, as Promise.allSettled", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const out = await tm.compute("cpu").map("countOrFail", items(10, counter, 4), { settle: true });
  expect(out.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
  expect(out[2]).toEqual({ status: "fulfilled", value: 2 });
  expect((out[4] as { reason: Error }).reason.message).toBe("item 4 is bad");
  expect(Atomics.load(counter, 0)).toBe(10);
});

test("an argument that cannot be sent fails its item only: first error, or that item's outcome", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
  const e = await rejection(tm.compute("cpu").map("echo", [1, () => 2, 3]));
  expect(e.name).toBe("DataCloneError");
  const out = await tm.compute("cpu").map("echo", [1, () => 2, 3], { settle: true });
  expect(out.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
});

test("a signal aborts the whole batch: the promise rejects with its reason and queued items never run", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1 } } });
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const ac = new AbortController();
  const batch = tm.compute("cpu").map("countOrFail", items(500, counter, -1, 2), { signal: ac.signal });
  await Bun.sleep(30);
  ac.abort(new Error("enough"));
  expect((await rejection(batch)).message).toBe("enough");
  const ran = Atomics.load(counter, 0);
  await Bun.sleep(100);
  expect(Atomics.load(counter, 0)).toBeLessThan(ran + 3); // at most what was running or claimed
  expect(ran).toBeLessThan(500);
  const already = new AbortController();
  already.abort(new Error("before"));
  expect((await rejection(tm.compute("cpu").map("echo", [1], { signal: already.signal }))).message).toBe("before");
});

test("a batch larger than max_queue runs whole, a window at a time; a full queue refuses it at once", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2, max_queue: 16 } }, async: { io: { module: IO, worker_threads: 1, max_queue: 16 } } });
  const cpu = tm.compute("cpu");
  const args = Array.from({ length: 6000 }, (_, i) => i); // 24 chunks of 256 and a tail: more records than max_queue
  expect(await cpu.map("echo", args)).toEqual(args);
  expect(await tm.async("io").map("echo", args.slice(0, 300))).toEqual(args.slice(0, 300)); // a record per item
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const hold = Promise.all(items(16, counter, -1, 20).map((a) => cpu.run("countOrFail", a))); // max_queue counts records (a chunk is one)
  const busy = await rejection(cpu.map("echo", [1]));
  expect(busy.code).toBe("ERR_POOL_BUSY");
  await hold;
});

test("bad input: unknown handler, arguments that are not a list, bad options; closed pool", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  expect(await rejection(cpu.map("nope", [1]))).toBeInstanceOf(HandlerNotFoundError);
  for (const bad of [5, null, undefined, "abc", { a: 1 }, { length: 3 }]) {
    const e = await rejection(cpu.map("echo", bad as never));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toContain("map(args)");
  }
  expect(await rejection(cpu.map("echo", [1], 5 as never))).toBeInstanceOf(InvalidArgumentError);
  await cpu.close();
  expect(await rejection(cpu.map("echo", [1]))).toBeInstanceOf(PoolClosedError);
});

test("from a pool thread: ctx.pools.compute(name).map, larger than the thread's lane limit", async () => {
  const tm = await m.start({
    compute: { cpu: { module: CROSS, static_threads: 2, max_threads: 2, max_queue_per_thread: 64 } },
    async: { io: { module: CALLERS, worker_threads: 1 } },
  });
  const out = (await tm.async("io").run("mapVia", ["cpu", 1000, 5])) as number[];
  expect(out).toEqual(Array.from({ length: 1000 }, (_, i) => 5 + i));
});

test("an item whose thread dies: WorkerCrashedError for it (and what its thread had claimed), every other result in its place; the pool serves on", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const errors = spyOn(console, "error").mockImplementation(() => {});
  try {
    const out = await cpu.map("exitAt", Array.from({ length: 3000 }, (_, i) => [i, 1500]), { settle: true });
    const rejected = out.flatMap((o, i) => (o.status === "rejected" ? [[i, (o.reason as Error).name]] : []));
    // The item that exited fails; items that thread had claimed may fail with it; none is lost or run twice.
    expect(rejected.length).toBeGreaterThanOrEqual(1);
    expect(rejected.every(([, name]) => name === "WorkerCrashedError")).toBe(true);
    expect(rejected.some(([i]) => i === 1500)).toBe(true);
    for (let i = 0; i < 3000; i++) if (out[i]!.status === "fulfilled") expect((out[i] as { value: number }).value).toBe(i);
    const first = await rejection(cpu.map("exitAt", [[0, -1], [1, 1], [2, -1]]));
    expect(first.name).toBe("WorkerCrashedError");
    expect(await cpu.map("exitAt", [[5, -1], [6, -1]])).toEqual([5, 6]);
    expect(cpu.metrics().deaths).toBe(2);
  } finally {
    errors.mockRestore();
  }
});

test(`every item runs exactly once and lands in its place: ${STRESS ? "2M" : "100k"} items, 2 threads, with run() calls interleaved`, async () => {
  const n = STRESS ? 2_000_000 : 100_000;
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const marks = new Int32Array(new SharedArrayBuffer(4 * n));
  const side = Array.from({ length: 1000 }, (_, i) => cpu.run("add", [i, 1]));
  const out = (await cpu.map("markOnce", Array.from({ length: n }, (_, i) => [marks, i]))) as number[];
  expect((await Promise.all(side))[999]).toBe(1000);
  let wrong = 0;
  for (let i = 0; i < n; i++) if (out[i] !== i || marks[i] !== 1) wrong++;
  expect(wrong).toBe(0);
  expect(cpu.metrics().pending).toBe(0);
}, STRESS ? 600_000 : 60_000);

