/**
 * SharedArrayBuffers and views are shared everywhere (PROTOCOL.md, "Mail"): made on main or on any
 * pool thread, passed on by anyone, carried by stolen join halves, nested in arrays, objects, Maps
 * and Sets; registry entries are released once no thread needs them, with no cap.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { managers, until } from "./helpers.ts";

const PAYLOADS = new URL("../fixtures/payloads.ts", import.meta.url);
const ROUNDS = process.env.STRESS ? 100 : 3;
const m = managers();
afterEach(() => m.closeAll());

async function pool2() {
  const tm = await m.start({ compute: { p: { module: PAYLOADS, max_threads: 2 } } });
  return tm.compute("p");
}

describe("shared buffers made anywhere work everywhere", () => {
  test("a buffer made on a pool thread, passed back into the pool, is used by every thread and seen by main", async () => {
    const pool = await pool2();
    for (let round = 0; round < ROUNDS; round++) {
      const view = await pool.run<Int32Array>("makeShared", 4);
      expect(view.buffer).toBeInstanceOf(SharedArrayBuffer);
      const who = await Promise.all(Array.from({ length: 400 }, () => pool.run<number>("bump", view)));
      expect(new Set(who).size).toBe(2); // both threads decoded it
      expect(view[0]! + view[1]!).toBe(400); // and wrote into the same memory main reads
      expect(view[0]).toBe(who.filter((t) => t === 0).length);
    }
  }, 60_000);

  test("the same buffer comes back as the same object, whoever made it", async () => {
    const pool = await pool2();
    const sab = new SharedArrayBuffer(16);
    expect(await pool.run("echo", sab)).toBe(sab);
    const made = await pool.run<SharedArrayBuffer>("makeBuffer", 8);
    expect(await pool.run("echo", made)).toBe(made);
    const view = new Float64Array(sab, 8, 1);
    const back = await pool.run<Float64Array>("echo", view);
    expect(back.buffer).toBe(sab); // a view comes back as a view of the same buffer, same window
    expect([back.byteOffset, back.length]).toEqual([8, 1]);
  });

  test("stolen join halves carrying a worker-made buffer write into it", async () => {
    const pool = await pool2();
    const view = await pool.run<Int32Array>("makeShared", 2);
    let halves = 0;
    for (let round = 0; round < ROUNDS * 5 && pool.metrics().stolen === 0; round++) {
      const got = await Promise.all(Array.from({ length: 8 }, () => pool.run<number>("joinShared", [view, 64])));
      halves += got.reduce((a, b) => a + b, 0);
    }
    expect(pool.metrics().stolen).toBeGreaterThan(0);
    expect(view[0]! + view[1]!).toBe(halves);
    expect(view[0]).toBeGreaterThan(0);
    expect(view[1]).toBeGreaterThan(0);
  }, 60_000);

  test("views inside a Map and a Set are shared like those in arrays and objects", async () => {
    const pool = await pool2();
    const a = new Int32Array(new SharedArrayBuffer(4));
    const b = new Int32Array(new SharedArrayBuffer(8), 4, 1);
    const map = new Map<string, Int32Array>([["a", a], ["b", b]]);
    expect(await pool.run("writeMapViews", [map, 42])).toBe(2);
    expect([a[0], b[0]]).toEqual([42, 42]);
    const set = new Set([a, b, "x"]);
    const back = await pool.run<Set<unknown>>("echo", set);
    const views = [...back].filter((v) => v instanceof Int32Array) as Int32Array[];
    expect(views.map((v) => v.buffer)).toEqual([a.buffer, b.buffer]);
    const keyed = await pool.run<Map<unknown, number>>("echo", new Map<unknown, number>([[a, 1], [b, 2]]));
    expect([...keyed.keys()].map((k) => (k as Int32Array).buffer)).toEqual([a.buffer, b.buffer]);
  });

  test("no reserved keys: a user object shaped like any internal marker round-trips as it is", async () => {
    const pool = await pool2();
    const v = { __btm_shared__: 5, __error: { message: "x" }, k: "ref", refs: [[[], 1, 0, 0, 4]], nested: [{ __btm_shared__: 1 }] };
    expect(await pool.run("echo", v)).toEqual(v);
    const withShared = { ...v, view: new Int32Array(new SharedArrayBuffer(4)) };
    const back = await pool.run<typeof withShared>("echo", withShared);
    expect(back.view.buffer).toBe(withShared.view.buffer);
    expect({ ...back, view: undefined }).toEqual({ ...v, view: undefined });
  });
});

describe("registry lifetimes", () => {
  test("2^21 distinct views over the pool's life: nothing registered per view, memory flat", async () => {
    const pool = await pool2();
    const base = new SharedArrayBuffer(1 << 12);
    new Int32Array(base).fill(1);
    const send = (k: number) => pool.run<number>("sumFirsts", Array.from({ length: 1024 }, (_, i) => new Int32Array(base, ((i + k) % 1024) * 4, 1)));
    const rss: number[] = [];
    for (let k = 0; k < 2048; k += 32) {
      const sums = await Promise.all(Array.from({ length: 32 }, (_, j) => send(k + j)));
      expect(sums.every((s) => s === 1024)).toBe(true);
      if (k % 512 === 0) {
        Bun.gc(true);
        rss.push(process.memoryUsage().rss);
      }
    }
    expect(pool.metrics().arena.sharedBuffers).toBeLessThanOrEqual(2);
    // Flat: the last quarter of the 2^21 views adds no more than garbage the threads' heaps have not collected yet.
    expect(rss.at(-1)! - rss[1]!).toBeLessThan(48 << 20);
  }, 120_000);

  test("distinct buffers made on main and on pool threads are released once no thread holds them", async () => {
    const pool = await pool2();
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 2000 }, () => pool.run("echo", new Int32Array(new SharedArrayBuffer(64)))));
      await Promise.all(Array.from({ length: 2000 }, () => pool.run("makeBuffer", 64)));
    }
    // Collect on main; the workers collect on their own at idle turns and mail their releases.
    let lastGc = 0;
    await until(() => {
      if (performance.now() - lastGc > 200) {
        Bun.gc(true);
        lastGc = performance.now();
      }
      return pool.metrics().arena.sharedBuffers < 100;
    }, 30_000, "the registry to release 16000 dropped buffers");
    const view = await pool.run<Int32Array>("makeShared", 2); // still works after all that
    await Promise.all(Array.from({ length: 20 }, () => pool.run("bump", view)));
    expect(view[0]! + view[1]!).toBe(20);
  }, 60_000);
});
