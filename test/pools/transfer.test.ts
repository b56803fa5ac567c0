/**
 * run(handler, arg, { transfer }): the caller gives the listed ArrayBuffers up (detached when run()
 * returns, as with postMessage), the argument reaches one thread whole (its record in that thread's
 * inbox), and every task completes once, also when that thread dies, the task is aborted or the
 * pool closes.
 */
import { afterEach, expect, test } from "bun:test";
import { DataCloneError, InvalidArgumentError, PayloadTooLargeError, PoolClosedError, WorkerCrashedError } from "../../src/index.ts";
import { checksum } from "../fixtures/transfer.ts";
import { managers, rejection, until } from "./helpers.ts";

const TRANSFER = new URL("../fixtures/transfer.ts", import.meta.url).href;
const STRESS = process.env.STRESS === "1";
const m = managers();
afterEach(() => m.closeAll());

const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

test("a transferred argument arrives whole and the caller's buffers are detached at once", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const big = bytesOf(3 << 20, 1); // above the arena's largest block: no size limit but max_payload_bytes
  const sum = checksum(big);
  const pending = cpu.run("inspect", big, { transfer: [big.buffer] });
  expect(big.buffer.detached).toBe(true); // at once, like postMessage
  expect(big.byteLength).toBe(0);
  expect(await pending).toMatchObject({ kind: "Uint8Array", length: 3 << 20, sum, shared: false });

  const ab = bytesOf(1000, 2).buffer;
  expect(await cpu.run("inspect", ab, { transfer: [ab] })).toMatchObject({ kind: "ArrayBuffer", length: 1000, sum: checksum(bytesOf(1000, 2)) });
  expect(ab.detached).toBe(true);

  // Inside an object, beside a shared buffer (shared, not moved) and a buffer not listed (copied).
  const data = new Float64Array([1.5, 2.5]);
  const kept = new Uint8Array([7, 8]);
  const shared = new Int32Array(new SharedArrayBuffer(8));
  expect(await cpu.run("touch", { data, kept, shared, name: "x" }, { transfer: [data.buffer] })).toBe(4);
  expect(data.buffer.detached).toBe(true);
  expect(shared[0]).toBe(42);
  expect(kept.buffer.detached).toBe(false);
});

test("bad transfer lists are refused naming the entry at fault; nothing is detached and the pool goes on", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const b = new Uint8Array(8);
  const cases: [unknown, string, RegExp][] = [
    ["nope", "options.transfer", /must be an array of ArrayBuffers, got a string/],
    [[b], "options.transfer[0]", /must be an ArrayBuffer \(list the view's \.buffer\)/],
    [[b.buffer, new SharedArrayBuffer(4)], "options.transfer[1]", /SharedArrayBuffer is shared, never transferred/],
    [[b.buffer, b.buffer], "options.transfer[1]", /lists the same ArrayBuffer twice/],
  ];
  for (const [transfer, key, message] of cases) {
    const e = await rejection(cpu.run("inspect", b, { transfer: transfer as ArrayBuffer[] }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.parameter).toBe(key);
    expect(e.message).toMatch(message);
    expect(b.buffer.detached).toBe(false);
  }
  const gone = new ArrayBuffer(4);
  gone.transfer();
  expect((await rejection(cpu.run("inspect", 1, { transfer: [gone] }))).message).toMatch(/options\.transfer\[0\] of handler "inspect" is already detached/);
  // A value postMessage cannot clone: DataCloneError, and the buffer stays with the caller.
  const e = await rejection(cpu.run("inspect", { f: () => 1, b }, { transfer: [b.buffer] }));
  expect(e).toBeInstanceOf(DataCloneError);
  expect(e.message).toContain('argument of handler "inspect"');
  expect(b.buffer.detached).toBe(false);
  // max_payload_bytes holds for what is transferred too.
  const tm2 = await m.start({ compute: { small: { module: TRANSFER, static_threads: 1, max_threads: 1, max_payload_bytes: 65536 } } });
  const over = new Uint8Array(65537);
  expect(await rejection(tm2.compute("small").run("inspect", over, { transfer: [over.buffer] }))).toBeInstanceOf(PayloadTooLargeError);
  expect(await cpu.run("inspect", b, { transfer: [b.buffer] })).toMatchObject({ length: 8 });
  // map and parallelFor take no transfer list.
  expect((await rejection(cpu.map("inspect", [1], { transfer: [] } as never))).parameter).toBe("options.transfer");
  expect((await rejection(cpu.parallelFor("inspect", 0, 4, { transfer: [] } as never))).parameter).toBe("options.transfer");
});

test("many transferred tasks beside copied ones: each runs exactly once, on both threads", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const n = STRESS ? 1_000_000 : 20_000;
  const marks = new Int32Array(new SharedArrayBuffer(4 * n));
  const runs: Promise<number>[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(64 + (i % 5) * 1000).fill(i & 255);
    runs.push(cpu.run<number>("markBytes", { marks, i, data }, i % 3 === 0 ? undefined : { transfer: [data.buffer] }));
    if (runs.length % 2000 === 0) await Promise.all(runs.slice(-2000));
  }
  const lengths = await Promise.all(runs);
  expect(lengths.every((len, i) => len === 64 + (i % 5) * 1000)).toBe(true);
  expect(marks.every((c) => c === 1)).toBe(true);
  const threads = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const u = new Uint8Array(16);
    threads.add(((await cpu.run("inspect", u, { transfer: [u.buffer] })) as { thread: number }).thread);
  }
  expect(threads.size).toBe(2); // not all on one thread
  expect(cpu.metrics().pending).toBe(0);
}, STRESS ? 900_000 : 30_000);

test("tasks waiting in a thread's inbox when it dies reject with WorkerCrashedError; the replacement serves the next", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const dying = rejection(cpu.run("holdThenExit", gate, { transfer: [] }));
  const waiting = Array.from({ length: 5 }, (_, i) => {
    const u = new Uint8Array(100).fill(i);
    return rejection(cpu.run("inspect", u, { transfer: [u.buffer] }));
  });
  await Bun.sleep(50);
  Atomics.store(gate, 0, 1);
  for (const p of [dying, ...waiting]) expect(await p).toBeInstanceOf(WorkerCrashedError);
  const u = new Uint8Array(10).fill(4);
  expect(await cpu.run("inspect", u, { transfer: [u.buffer] })).toMatchObject({ length: 10, sum: checksum(new Uint8Array(10).fill(4)) });
  expect(cpu.metrics().pending).toBe(0);
});

test("an aborted transferred task never runs; close runs the waiting ones (drain) or cancels them", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const marks = new Int32Array(new SharedArrayBuffer(16));
  const one = (i: number, signal?: AbortSignal) => {
    const data = new Uint8Array(8).fill(i);
    return cpu.run("markBytes", { marks, i, data }, { transfer: [data.buffer], signal });
  };
  const hold = cpu.run("holdThen", [gate, "held"], { transfer: [] });
  const ac = new AbortController();
  const aborted = one(0, ac.signal);
  const drained = [one(1), one(2)];
  ac.abort(new Error("changed my mind"));
  expect((await rejection(aborted)).message).toBe("changed my mind");
  const closing = cpu.close();
  Atomics.store(gate, 0, 1);
  expect(await hold).toBe("held");
  expect(await Promise.all(drained)).toEqual([8, 8]);
  expect((await closing).drained).toBeGreaterThanOrEqual(3);
  expect(Array.from(marks)).toEqual([0, 1, 1, 0]);

  const tm2 = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } } });
  const gate2 = new Int32Array(new SharedArrayBuffer(8));
  const cpu2 = tm2.compute("cpu");
  const held = cpu2.run("holdThen", [gate2, 1], { transfer: [] });
  await until(() => gate2[1] === 1, 5000, "the holding task to start");
  const queued = Array.from({ length: 3 }, () => {
    const u = new Uint8Array(4);
    return rejection(cpu2.run("inspect", u, { transfer: [u.buffer] }));
  });
  const cancelling = cpu2.close({ drain: false });
  Atomics.store(gate2, 0, 1);
  expect(await held).toBe(1);
  for (const q of queued) expect(await q).toBeInstanceOf(PoolClosedError);
  expect((await cancelling).cancelled).toBe(3);
});

test("from a pool thread the argument is copied (no mail between threads) and the buffer is detached all the same", async () => {
  const tm = await m.start({
    compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } },
    async: { io: { module: TRANSFER, worker_threads: 1 } },
  });
  expect(await tm.async("io").run("transferVia", ["cpu", 5000])).toMatchObject({
    detached: true,
    got: { kind: "Uint8Array", length: 5000, sum: checksum(new Uint8Array(5000).fill(9)), shared: false },
  });
});

test("a pool without static threads copies the argument; the caller's buffer is detached all the same", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 0, dynamic_threads: 1, max_threads: 1 } } });
  const u = bytesOf(200_000, 3);
  const sum = checksum(u);
  const pending = tm.compute("cpu").run("inspect", u, { transfer: [u.buffer] });
  expect(u.buffer.detached).toBe(true);
  expect(await pending).toMatchObject({ length: 200_000, sum });
});

test("bytes over an arena block, copied: mailed to one thread (no shared buffer registered); the caller keeps them", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const gate = new Int32Array(new SharedArrayBuffer(8));
  await cpu.run("setGate", gate);
  const registered = cpu.metrics().arena.sharedBuffers;
  const big = bytesOf(3 << 20, 5);
  const held = cpu.run("holdBytes", big);
  await until(() => gate[1] === 1, 5000, "the task to start");
  expect(cpu.metrics().arena.sharedBuffers).toBe(registered); // the copy path would register a buffer for it
  Atomics.store(gate, 0, 1);
  expect(await held).toBe(3 << 20);
  expect(big.buffer.detached).toBe(false);
  expect(await cpu.run("inspect", big)).toMatchObject({ length: 3 << 20, sum: checksum(big) });
});

test("an async pool takes transferred arguments too (its thread's inbox, between event-loop turns)", async () => {
  const tm = await m.start({ async: { io: { module: TRANSFER, worker_threads: 2 } } });
  const runs = Array.from({ length: 200 }, (_, i) => {
    const u = bytesOf(10_000 + i, i);
    const sum = checksum(u);
    return tm.async("io").run("inspect", u, { transfer: [u.buffer] }).then((r) => expect(r).toMatchObject({ length: 10_000 + i, sum }));
  });
  await Promise.all(runs);
  expect(tm.async("io").metrics().pending).toBe(0);
});

test("an argument that waits for arena room is taken at run(): transferred ones are detached, copied ones are copied; later writes do not reach the thread", async () => {
  // No static thread (so transfers are copied) and a small arena that cannot grow: a busy thread makes the next arguments wait.
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 0, dynamic_threads: 1, max_threads: 1, arena_bytes: 1 << 20, arena_max_bytes: 1 << 20 } } });
  const cpu = tm.compute("cpu");
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const held = cpu.run("holdThen", [gate, "held"]);
  await until(() => gate[1] === 1, 5000, "the holding task to start");
  const sent: { u: Uint8Array; p: Promise<unknown>; moved: boolean }[] = [];
  for (let i = 0; i < 40; i++) {
    const u = new Uint8Array(40_000).fill(1); // a 64 KiB block each: 2 blocks in this arena
    const moved = i % 2 === 0;
    const p = cpu.run("ends", u, moved ? { transfer: [u.buffer] } : undefined);
    p.catch(() => {}); // awaited below; a failing assertion first must not leave it unhandled
    sent.push({ u, p, moved });
  }
  expect(cpu.metrics().arena.waiting).toBeGreaterThan(0); // some did wait for room
  for (const s of sent) {
    expect((s.u.buffer as ArrayBuffer).detached).toBe(s.moved); // at run(), waiting or not
    if (!s.moved) s.u.fill(99); // the caller reuses its buffer at once
  }
  Atomics.store(gate, 0, 1);
  expect(await held).toBe("held");
  for (const s of sent) expect(await s.p).toEqual([1, 1, 40_000]);
});

test("from a pool thread, a transfer refused for its size detaches nothing; a view's backing buffer never travels whole", async () => {
  const tm = await m.start({
    compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } },
    async: { io: { module: TRANSFER, worker_threads: 1 } },
  });
  // 2 MiB from a pool thread: over one arena block, refused; the buffer stays with the caller.
  expect(await tm.async("io").run("transferTooBig", ["cpu", 2 << 20])).toEqual({ code: "ERR_PAYLOAD_TOO_LARGE", byteLength: 2 << 20 });
  // A 2 MiB window of a 64 MiB buffer, copied from main: the thread gets 2 MiB, not the whole buffer.
  const big = new Uint8Array(64 << 20);
  big[5] = 42;
  expect(await tm.compute("cpu").run("backing", big.subarray(5, 5 + (2 << 20)))).toEqual({ first: 42, length: 2 << 20, buffer: 2 << 20 });
});

test("with a static thread, byte arrays that find the arena full go to its inbox at once (copied at the call), not to the wait", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1, arena_bytes: 1 << 20, arena_max_bytes: 1 << 20 } } });
  const cpu = tm.compute("cpu");
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const held = cpu.run("holdThen", [gate, "held"]);
  await until(() => gate[1] === 1, 5000, "the holding task to start");
  const sent = Array.from({ length: 40 }, () => {
    const u = new Uint8Array(40_000).fill(1);
    const p = cpu.run("ends", u);
    p.catch(() => {});
    u.fill(99); // reused at once
    return p;
  });
  expect(cpu.metrics().arena.waiting).toBe(0);
  Atomics.store(gate, 0, 1);
  expect(await held).toBe("held");
  for (const p of sent) expect(await p).toEqual([1, 1, 40_000]);
});

test("parallelFor's argument is read by every thread: a big or arena-less copied one is never mailed to just one", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 2, max_threads: 2 } } });
  const data = new Float64Array(400_000).fill(1); // 3.2 MB: over an arena block
  expect(await tm.compute("cpu").parallelFor("sumPlain", 0, data.length, { arg: data, grain: 10_000 })).toBe(400_000);
});

test("transferred tasks while threads die: every task settles once, run exactly once or rejected with WorkerCrashedError; nothing hangs", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 2, max_threads: 2 } } });
  const cpu = tm.compute("cpu");
  const n = STRESS ? 200_000 : 6000;
  const every = STRESS ? 20_000 : 2000;
  const marks = new Int32Array(new SharedArrayBuffer(4 * n));
  const errSpy = console.error;
  console.error = () => {}; // each death is logged: expected here
  try {
    const outcomes: Promise<"ok" | "crashed">[] = [];
    for (let i = 0; i < n; i++) {
      const data = new Uint8Array(256).fill(i & 255);
      const p = cpu.run("markOrExit", { marks, i, data, exit: i % every === every - 1 }, { transfer: [data.buffer] });
      outcomes.push(p.then(() => "ok" as const, (e) => {
        if (!(e instanceof WorkerCrashedError)) throw e;
        return "crashed" as const;
      }));
      if (i % 500 === 499) await Promise.all(outcomes.slice(-500));
    }
    const got = await Promise.all(outcomes);
    const crashed = got.filter((g) => g === "crashed").length;
    expect(crashed).toBeGreaterThanOrEqual(n / every); // at least the tasks that exited
    got.forEach((g, i) => {
      if (g === "ok" && marks[i] !== 1) throw new Error(`task ${i} completed but ran ${marks[i]} times`);
      if (g === "crashed" && marks[i]! > 1) throw new Error(`task ${i} ran ${marks[i]} times`);
    });
    expect(cpu.metrics().deaths).toBe(n / every);
    expect(cpu.metrics().pending).toBe(0);
  } finally {
    console.error = errSpy;
  }
}, STRESS ? 900_000 : 30_000);

test("a byte array mailed to a thread arrives as its own kind (a Buffer as a Buffer) at every size", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  for (const n of [1000, 1 << 20, (1 << 20) + 1, 3 << 20]) {
    expect(await cpu.run("kindOf", Buffer.alloc(n, 1))).toEqual(["Buffer", n]);
    expect(await cpu.run("kindOf", new Float32Array(n >> 2))).toEqual(["Float32Array", (n >> 2) * 4]);
    expect(await cpu.run("kindOf", new DataView(new ArrayBuffer(n + 8), 8))).toEqual(["DataView", n]);
    expect(await cpu.run("kindOf", new ArrayBuffer(n))).toEqual(["ArrayBuffer", n]);
  }
});

test("a transferred Buffer arrives as a Buffer: mailed to a static thread, or moved at run() while it waits for room", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } } });
  for (const n of [0, 11, 1000, 1 << 20]) {
    const b = Buffer.alloc(n, 1);
    expect(await tm.compute("cpu").run("kindOf", b, { transfer: [b.buffer as ArrayBuffer] })).toEqual(["Buffer", n]);
    expect(b.buffer.detached).toBe(true);
  }
  // No static thread and an arena that cannot grow, held full: the Buffer waits, moved out of the caller's hands.
  const tm2 = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 0, dynamic_threads: 1, max_threads: 1, arena_bytes: 1 << 20, arena_max_bytes: 1 << 20 } } });
  const cpu = tm2.compute("cpu");
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const held = cpu.run("holdThen", [gate, "held"]);
  await until(() => gate[1] === 1, 5000, "the holding task to start");
  const sent = Array.from({ length: 6 }, () => {
    const b = Buffer.alloc(40_000, 2); // a 64 KiB block each: 2 blocks in this arena
    return cpu.run("kindOf", b, { transfer: [b.buffer as ArrayBuffer] });
  });
  expect(cpu.metrics().arena.waiting).toBeGreaterThan(0);
  Atomics.store(gate, 0, 1);
  expect(await held).toBe("held");
  for (const p of sent) expect(await p).toEqual(["Buffer", 40_000]);
});

test("a full arena grows for small byte arrays only: big ones go to an inbox instead of a segment each", async () => {
  const tm = await m.start({ compute: { cpu: { module: TRANSFER, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const held = cpu.run("holdThen", [gate, "held"]);
  await until(() => gate[1] === 1, 5000, "the holding task to start");
  const big = Array.from({ length: 12 }, () => cpu.run("ends", new Uint8Array(500_000).fill(1)));
  expect(cpu.metrics().arena.segments).toBe(1); // 500 KB: 4 blocks of that class per 8 MiB segment, not worth one each
  const small = Array.from({ length: 300 }, () => cpu.run("ends", new Uint8Array(30_000).fill(1)));
  expect(cpu.metrics().arena.segments).toBeGreaterThan(1); // 30 KB: 16 blocks a segment, so the store grew
  Atomics.store(gate, 0, 1);
  expect(await held).toBe("held");
  for (const r of await Promise.all(big)) expect(r).toEqual([1, 1, 500_000]);
  for (const r of await Promise.all(small)) expect(r).toEqual([1, 1, 30_000]);
});
