/**
 * pool.map on a compute pool sends its items in chunks (src/submit/task-chunk.ts): far fewer
 * records than items, yet every item keeps its own call, outcome, error, encoding and limits.
 */
import { afterEach, expect, test } from "bun:test";
import { spyOn } from "bun:test";
import { MATH, managers, rejection, until } from "./helpers.ts";

const CALLERS = new URL("../fixtures/callers.ts", import.meta.url).href;

const STRESS = process.env.STRESS === "1";
const m = managers();
afterEach(() => m.closeAll());

/** Once nothing is pending, every item submitted was counted once: completed, failed, cancelled or crashed. */
async function addsUp(pool: { metrics(): { submitted: number; completed: number; failed: number; cancelled: number; crashed: number; pending: number } }) {
  await until(() => pool.metrics().pending === 0, 5000, "nothing pending");
  const x = pool.metrics();
  expect(x.completed + x.failed + x.cancelled + x.crashed).toBe(x.submitted);
}

type Outcome = { status: "fulfilled"; value: unknown } | { status: "rejected"; reason: Error };

/** Waits (at most 5 s) until the pool's arena holds exactly `bytes` in use: every result block freed. */
async function arenaSettles(pool: { metrics(): { arena: { usedBytes: number } } }, bytes: number): Promise<number> {
  for (let t = 0; t < 500 && pool.metrics().arena.usedBytes !== bytes; t++) await Bun.sleep(10);
  return pool.metrics().arena.usedBytes;
}

test("a compute pool's map runs its items in chunks: a record per many items, each counted as a task in metrics", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const args = Array.from({ length: 20_000 }, (_, i) => [i, 1]);
  expect(await cpu.map("add", args)).toEqual(args.map(([a]) => a! + 1));
  const metrics = cpu.metrics();
  const records = metrics.threads.reduce((n, t) => n + t.executed, 0);
  expect(records).toBeLessThan(20_000 / 20); // chunks of up to 256 items (smaller near the end, and while the code is cold and items run slow)
  expect(records).toBeGreaterThan(20_000 / 256 - 1);
  expect(metrics.submitted).toBe(20_000);
  expect(metrics.completed).toBe(20_000);
  expect(metrics.pending).toBe(0);
  // An async pool's handlers may await: its items stay one task each (nothing to assert beyond the results).
});

test("inside chunks, an item that throws, returns what cannot be sent, or has an argument that cannot be sent fails alone", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const kind = (i: number) => (i % 50 === 7 ? "throw" : i % 50 === 19 ? "fn" : i % 50 === 33 ? "arg" : "ok");
  const args = Array.from({ length: 5000 }, (_, i) => (kind(i) === "arg" ? [i, () => i] : [i, kind(i)]));
  const out = (await cpu.map("itemOutcome", args, { settle: true })) as Outcome[];
  for (let i = 0; i < args.length; i++) {
    const o = out[i]!;
    if (kind(i) === "ok") {
      expect(o).toEqual({ status: "fulfilled", value: i });
      continue;
    }
    expect(o.status).toBe("rejected");
    const reason = (o as { reason: Error & { code?: string } }).reason;
    if (kind(i) === "throw") expect([reason.name, reason.message]).toEqual(["RangeError", `item ${i} threw`]);
    else expect(reason.name).toBe("DataCloneError"); // the result (fn) or the argument (arg): that item only
  }
  expect(cpu.metrics().failed).toBe(200); // an argument refused at the call was never submitted (as with run)
  expect(cpu.metrics().completed).toBe(4700);
  expect(await cpu.run("add", [1, 1])).toBe(2);
});

test("the first error stops its chunk and rejects the batch; every result already made is freed", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const base = cpu.metrics().arena.usedBytes;
  const args = Array.from({ length: 4000 }, (_, i) => [i % 8, i === 2500 ? "throw" : "big"]); // results of up to 7 KB: arena blocks
  const e = await rejection(cpu.map("itemOutcome", args));
  expect([e.name, e.message]).toEqual(["RangeError", "item 4 threw"]); // item 2500 is [4, "throw"]
  expect(await arenaSettles(cpu, base)).toBe(base);
  await addsUp(cpu);
  expect(cpu.metrics().failed).toBe(1);
});

test("an aborted batch: no item starts after the abort, and the results its running chunks made are freed", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const base = cpu.metrics().arena.usedBytes;
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const ac = new AbortController();
  const batch = cpu.map("countOrFail", Array.from({ length: 3000 }, (_, i) => [counter, i, -1, 0.2]), { signal: ac.signal });
  await Bun.sleep(50);
  ac.abort(new Error("stop"));
  expect((await rejection(batch)).message).toBe("stop");
  const ran = Atomics.load(counter, 0);
  await Bun.sleep(100);
  expect(Atomics.load(counter, 0)).toBeLessThanOrEqual(ran + 1); // the item running at the abort, at most
  expect(ran).toBeLessThan(3000);
  expect(await arenaSettles(cpu, base)).toBe(base);
  await addsUp(cpu);
  // Items that never ran are cancelled; one that ran may count cancelled too: a task of its own aborted
  // after it ran (its completion not yet read) counts as a cancelled task, as run() does.
  expect(cpu.metrics().cancelled).toBeGreaterThanOrEqual(3000 - Atomics.load(counter, 0));
  expect(cpu.metrics().completed).toBeLessThanOrEqual(Atomics.load(counter, 0));
  expect(await cpu.map("add", [[1, 2], [3, 4]])).toEqual([3, 7]);
});

test("byte arrays go as tasks of their own; arguments that need the arena end a chunk at 64 KiB or wait for room", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2, arena_bytes: 256 * 1024, arena_max_bytes: 256 * 1024 } } });
  const cpu = tm.compute("cpu");
  const args: unknown[] = [];
  for (let i = 0; i < 600; i++) {
    if (i % 3 === 0) args.push(Buffer.alloc(1000 + i, i % 251));
    else if (i % 3 === 1) args.push("s".repeat(200 + 40 * i) + i); // up to 24 KB: chunks end by bytes, and some wait for room
    else args.push({ i, tag: `t${i}` });
  }
  const out = await cpu.map("echo", args);
  for (let i = 0; i < args.length; i++) {
    if (i % 3 === 0) {
      expect(Buffer.isBuffer(out[i])).toBe(true);
      expect((out[i] as Buffer).equals(args[i] as Buffer)).toBe(true);
    } else expect(out[i]).toEqual(args[i]);
  }
  expect(cpu.metrics().arena.argumentBytes).toBe(0);
  expect(cpu.metrics().arena.waiting).toBe(0);
});

test("a chunk cut short (by arena bytes, or an item it cannot take) runs exactly the items it took, each once", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const args = Array.from({ length: 400 }, (_, i) => (i % 97 === 50 ? [() => i] : `${i}:${"y".repeat(20_000)}`)); // 20 KB each: ~3 a chunk
  const out = (await cpu.map("countedEcho", args, { settle: true })) as Outcome[];
  for (let i = 0; i < args.length; i++) {
    if (i % 97 === 50) expect(out[i]!.status).toBe("rejected");
    else expect(out[i]).toEqual({ status: "fulfilled", value: args[i] });
  }
  expect(await cpu.run("callsHere")).toBe(400 - 4); // the refused items never ran; no call for a word the chunk did not take
});

test("a chunk stops at its thread's budget (1 ms, 64 KiB of results) and the rest go again: each item once, spread over the threads", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const records = () => cpu.metrics().threads.reduce((n, t) => n + t.executed, 0);
  const n = 400;
  const marks = new Int32Array(new SharedArrayBuffer(4 * n));
  // Uneven: the first quarter takes 3 ms an item, the rest 0.05 ms. Without the budget, the first chunk alone would hold 25 slow items.
  const args = Array.from({ length: n }, (_, i) => [marks, i, i < n / 4 ? 3 : 0.05]);
  const before = { records: records(), submitted: cpu.metrics().submitted };
  const ran = (await cpu.map("slowMark", args)) as number[];
  expect(Array.from(marks).every((x) => x === 1)).toBe(true);
  const slowOn = [0, 1].map((t) => ran.slice(0, n / 4).filter((x) => x === t).length);
  expect(Math.min(...slowOn)).toBeGreaterThanOrEqual(n / 4 / 4); // both threads took slow items
  expect(records() - before.records).toBeGreaterThan(n / 4 / 2); // slow items went one or two a chunk
  expect(cpu.metrics().submitted - before.submitted).toBe(n); // items sent again are not counted twice
  const big = (await cpu.map("itemOutcome", Array.from({ length: 60 }, () => [30, "big"]))) as string[]; // 30 KB results
  expect(big.every((x) => x.length === 30 * 1024)).toBe(true);
  await addsUp(cpu);
  expect(cpu.metrics().arena.usedBytes).toBe(0);
});

test("a pool thread that dies with chunks in flight: its lane is reaped and every result its chunks made is freed", async () => {
  const tm = await m.start({
    compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } },
    async: { io: { module: CALLERS, worker_threads: 1 } },
  });
  const cpu = tm.compute("cpu");
  const errors = spyOn(console, "error").mockImplementation(() => {});
  try {
    for (let r = 0; r < 3; r++) {
      const e = await rejection(tm.async("io").run("mapThenDie", ["cpu", 20_000, 300, 5 + 5 * r]));
      expect(e.code).toBe("ERR_WORKER_CRASHED");
    }
  } finally {
    errors.mockRestore();
  }
  await until(() => cpu.metrics().lanes.held === 0 && cpu.pending === 0, 10_000, "dead lanes reaped");
  expect(await arenaSettles(cpu, 0)).toBe(0);
  expect(cpu.metrics().lanes.reaped).toBeGreaterThanOrEqual(3);
});

test(`threads dying inside chunks: no item runs twice, every item that ran and came back holds its value: ${STRESS ? "1M" : "40k"} items, ${STRESS ? 40 : 8} deaths`, async () => {
  const n = STRESS ? 1_000_000 : 40_000;
  const deaths = STRESS ? 40 : 8;
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const errors = spyOn(console, "error").mockImplementation(() => {});
  try {
    const marks = new Int32Array(new SharedArrayBuffer(4 * n));
    const exits = new Set(Array.from({ length: deaths }, (_, k) => Math.floor(((k + 0.5) * n) / deaths)));
    const out = (await cpu.map("markOrExit", Array.from({ length: n }, (_, i) => [marks, i, exits.has(i)]), { settle: true })) as Outcome[];
    let crashed = 0;
    for (let i = 0; i < n; i++) {
      const o = out[i]!;
      expect(marks[i]!).toBeLessThanOrEqual(1); // never twice
      if (o.status === "fulfilled") {
        if (o.value !== i || marks[i] !== 1) throw new Error(`item ${i}: ${String(o.value)}, ran ${marks[i]} times`);
      } else {
        expect(o.reason.name).toBe("WorkerCrashedError");
        crashed++;
      }
    }
    for (const i of exits) expect(out[i]!.status).toBe("rejected");
    expect(crashed).toBeLessThan(deaths * 300); // each death takes at most its chunk (and what its thread had claimed)
    expect(cpu.metrics().deaths).toBe(deaths);
    await addsUp(cpu);
    expect(await cpu.map("add", [[1, 1], [2, 2]])).toEqual([2, 4]);
  } finally {
    errors.mockRestore();
  }
}, STRESS ? 600_000 : 60_000);

test("a cancelled batch drops its items still waiting for arena room: they never run, and count as cancelled", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1, arena_bytes: 256 * 1024, arena_max_bytes: 256 * 1024 } } });
  const cpu = tm.compute("cpu");
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const pad = "a".repeat(30_000); // 30 KB an argument: most wait for room
  const ac = new AbortController();
  const batch = cpu.map("countOrFail", Array.from({ length: 2000 }, (_, i) => [counter, i, -1, 0.05, pad]), { signal: ac.signal });
  ac.abort(new Error("now"));
  expect((await rejection(batch)).message).toBe("now");
  const atAbort = Atomics.load(counter, 0);
  await addsUp(cpu);
  expect(Atomics.load(counter, 0)).toBeLessThanOrEqual(atAbort + 1); // the item running at the abort, at most
  expect(cpu.metrics().submitted).toBe(2000);
  expect(cpu.metrics().cancelled).toBeGreaterThanOrEqual(2000 - Atomics.load(counter, 0)); // (see the test above)
  counter[0] = 0;
  let atError = -1;
  const e = await rejection(cpu.map("countOrFail", Array.from({ length: 2000 }, (_, i) => [counter, i, 3, 0.05, pad])).catch((x) => {
    atError = Atomics.load(counter, 0);
    throw x;
  }));
  expect(e.message).toBe("item 3 is bad");
  await addsUp(cpu);
  expect(Atomics.load(counter, 0)).toBeLessThanOrEqual(atError + 1); // the first error dropped the waiting ones too
  expect(atError).toBeLessThan(2000);
});

test("task_timeout_ms holds for each item of a chunk: fast items never time out, an item that overruns fails alone", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2, task_timeout_ms: 100, abort_grace_ms: 2000 } } });
  const cpu = tm.compute("cpu");
  const marks = new Int32Array(new SharedArrayBuffer(4 * 2000));
  const fast = (await cpu.map("slowMark", Array.from({ length: 2000 }, (_, i) => [marks, i, 0.5]), { settle: true })) as Outcome[];
  expect(fast.filter((o) => o.status === "rejected").length).toBe(0);
  marks.fill(0);
  const out = (await cpu.map("slowMark", Array.from({ length: 300 }, (_, i) => [marks, i, i === 150 ? 300 : 0.2]), { settle: true })) as Outcome[];
  expect((out[150] as { reason: Error }).reason?.name).toBe("TimeoutError");
  expect(out.filter((o) => o.status === "rejected").length).toBe(1);
  expect(Array.from(marks.subarray(0, 300)).every((x) => x === 1)).toBe(true); // each ran once, the slow one too (it returned after its timeout)
  // Slow items after a fast one may share a chunk (the clock is read every 16 fast items): each is timed, not their sum.
  for (let round = 0; round < 3; round++) {
    const uneven = (await cpu.map("slowMark", Array.from({ length: 1000 }, (_, i) => [marks, i, i >= 1 && i <= 15 ? 20 : 0.001]), { settle: true })) as Outcome[];
    expect(uneven.filter((o) => o.status === "rejected").map((o) => (o as { reason: Error }).reason.message)).toEqual([]);
  }
  await addsUp(cpu);
});

test("the argument list is read at the call: shortening or refilling the caller's array later changes nothing", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2, max_queue: 8 } } });
  const cpu = tm.compute("cpu");
  const args = Array.from({ length: 5000 }, (_, i) => [i, 1]);
  const p = cpu.map("add", args);
  args.length = 10;
  args.fill([0, 0]);
  const out = (await p) as number[];
  expect(out.length).toBe(5000);
  expect(out.every((x, i) => x === i + 1)).toBe(true);
});

test("a map from a pool thread: chunks in flight are bounded (no arena flood), and its items are counted one by one", async () => {
  const tm = await m.start({
    compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } },
    async: { io: { module: CALLERS, worker_threads: 1 } },
  });
  const cpu = tm.compute("cpu");
  for (const n of [100_000, 300_000]) {
    const out = (await tm.async("io").run("mapVia", ["cpu", n, 7])) as number[];
    expect(out.length).toBe(n);
    expect(out.every((x, i) => x === 7 + i)).toBe(true);
  }
  await until(() => cpu.metrics().pending === 0, 5000, "nothing pending");
  const x = cpu.metrics();
  expect(x.fromThreads.submitted).toBe(400_000);
  expect(x.fromThreads.completed).toBe(400_000);
  expect(x.arena.segments).toBe(1); // the first segment held every chunk in flight
});

test("close ends a map where it stands: items not yet sent never run (settle: true and first error alike), drain or not", async () => {
  for (const drain of [false, true]) {
    for (const settle of [true, false]) {
      const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
      const cpu = tm.compute("cpu");
      const n = 20_000;
      const marks = new Int32Array(new SharedArrayBuffer(4 * n));
      const batch = cpu.map("slowMark", Array.from({ length: n }, (_, i) => [marks, i, 0.5]), { settle }).catch((e) => e);
      await Bun.sleep(50);
      const t0 = performance.now();
      const outcome = await cpu.close({ drain, timeoutMs: 10_000 });
      expect(performance.now() - t0).toBeLessThan(3000); // what was sent, not the whole batch (10 s of work)
      const out = await batch;
      const ran = marks.reduce((a, b) => a + b, 0);
      expect(ran).toBeLessThan(n / 2);
      expect(Array.from(marks).every((x) => x <= 1)).toBe(true);
      if (settle) {
        const rejected = (out as Outcome[]).filter((o) => o.status === "rejected");
        expect(rejected.length).toBe(n - ran);
        expect(rejected.every((o) => o.reason.name === "PoolClosedError")).toBe(true);
      } else expect((out as Error).name).toBe("PoolClosedError");
      const x = cpu.metrics();
      expect(x.completed + x.failed + x.cancelled + x.crashed).toBe(x.submitted);
      expect(outcome.timedOut).toBe(false);
      await m.closeAll();
    }
  }
});

test("a thread that dies inside a chunk fails only the items it had started; the rest of its chunk goes again", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const errors = spyOn(console, "error").mockImplementation(() => {});
  try {
    const n = 2000;
    const marks = new Int32Array(new SharedArrayBuffer(4 * n));
    const out = (await cpu.map("markOrExit", Array.from({ length: n }, (_, i) => [marks, i, i === 100]), { settle: true })) as Outcome[];
    const rejected = out.flatMap((o, i) => (o.status === "rejected" ? [i] : []));
    expect(rejected).toContain(100);
    expect(Math.max(...rejected)).toBe(100); // nothing after the item that died: those went again
    for (let i = 101; i < n; i++) if (out[i]!.status !== "fulfilled" || marks[i] !== 1) throw new Error(`item ${i}: ${JSON.stringify(out[i])}, ran ${marks[i]}`);
    expect(Array.from(marks).every((x) => x <= 1)).toBe(true);
    await addsUp(cpu);
    expect(cpu.metrics().crashed).toBe(rejected.length);
  } finally {
    errors.mockRestore();
  }
});

test("from a pool thread too: a death inside a chunk fails only the items it had started (the crash notice carries the index)", async () => {
  const tm = await m.start({
    compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1 } },
    async: { io: { module: CALLERS, worker_threads: 1 } },
  });
  const cpu = tm.compute("cpu");
  const errors = spyOn(console, "error").mockImplementation(() => {});
  try {
    const n = 2000;
    const { rejected, own } = (await tm.async("io").run("mapExitAtVia", ["cpu", n, 100])) as { rejected: Array<[number, string]>; own: number };
    expect(rejected.map(([i]) => i)).toContain(100);
    expect(Math.max(...rejected.map(([i]) => i))).toBe(100); // the chunk's items after it went again
    expect(new Set(rejected.map(([, name]) => name))).toEqual(new Set(["WorkerCrashedError"]));
    expect(own).toBe(n - rejected.length);
    await addsUp(cpu);
    expect(cpu.metrics().crashed).toBe(rejected.length);
  } finally {
    errors.mockRestore();
  }
});

test("a chunk run inside another chunk's join wait that dies: no item of either map runs twice", async () => {
  // The outer item joins; its second half is stolen, so while it waits its thread takes the inner
  // map's chunk, whose item ends the thread. The thread's one WORKER_CHUNK_AT word names the inner
  // chunk then: the outer chunk must not read it as its own (CHUNK K2).
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const errors = spyOn(console, "error").mockImplementation(() => {});
  try {
    let nested = 0;
    for (let attempt = 0; attempt < 5 && nested === 0; attempt++) {
      const flag = new Int32Array(new SharedArrayBuffer(8));
      const outerMarks = new Int32Array(new SharedArrayBuffer(4 * 24));
      const innerMarks = new Int32Array(new SharedArrayBuffer(4 * 16));
      const outer = cpu.map("joinWaitItem", Array.from({ length: 24 }, (_, i) => [i, outerMarks, flag, 1]), { settle: true }); // its first chunk: items 0-2
      await until(() => Atomics.load(flag, 0) === 1, 5000, "the outer item's second half started");
      const inner = cpu.map("exitIfJoining", Array.from({ length: 16 }, (_, i) => [i, innerMarks, flag]), { settle: true });
      const [o, n] = (await Promise.all([outer, inner])) as [Outcome[], Outcome[]];
      if (Atomics.load(flag, 0) === 2) nested++;
      expect(Array.from(outerMarks).filter((x) => x > 1)).toEqual([]);
      expect(Array.from(innerMarks).filter((x) => x > 1)).toEqual([]);
      for (const [i, x] of [...o, ...n].entries()) {
        if (x.status === "rejected") expect(x.reason.name).toBe("WorkerCrashedError");
        else expect(x.value).toBe(i < 24 ? i : i - 24);
      }
    }
    expect(nested).toBeGreaterThan(0); // the case above happened at least once
    await addsUp(cpu);
  } finally {
    errors.mockRestore();
  }
});

test("maps from several pool threads at once fit the arena a lane sees: no item fails for want of a block", async () => {
  // A lane's chunk words and results live in the first arena segment (256 blocks of 4 KiB): at 64
  // chunks a thread in flight, two or three such maps failed whole chunks with PayloadTooLargeError.
  const tm = await m.start({
    compute: { cpu: { module: MATH, static_threads: 2, max_threads: 2 } },
    async: { io: { module: CALLERS, worker_threads: 2, concurrency: 16 } },
  });
  const io = tm.async("io");
  for (let round = 0; round < 4; round++) {
    const outs = (await Promise.all(Array.from({ length: 3 }, (_, k) => io.run("mapPaddedVia", ["cpu", 3000, k * 10_000, 30])))) as unknown[][];
    outs.forEach((out, k) => expect(out.filter((v, i) => v !== k * 10_000 + i)).toEqual([]));
  }
  await addsUp(tm.compute("cpu"));
  expect(tm.compute("cpu").metrics().failed).toBe(0);
}, 60_000);
