/** Native pools: long-lived threads with the pool's placement, limited to max_threads. */
import { afterEach, describe, expect, test } from "bun:test";
import { PoolBusyError } from "../../src/index.ts";
import { allowedCores } from "../../src/platform/cpus.ts";
import { readThread } from "../../src/platform/proc.ts";
import { managers, until } from "../pools/helpers.ts";

const m = managers();
afterEach(() => m.closeAll());
const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url);

describe("native pools", () => {
  test("spawn runs the module's default export with the data; name, tid, exited", async () => {
    const tm = await m.start({ native: { bg: { max_threads: 2 } } });
    const out = new Int32Array(new SharedArrayBuffer(8));
    const t = tm.native("bg").spawn(fixture("native-echo.ts"), { value: 42, out });
    expect(t.name).toBe("bg-0");
    const tid = await t.tid;
    expect(tid).toBeGreaterThan(0);
    expect(await t.exited).toBe(0);
    expect([...out]).toEqual([42, tid]);
    expect(tm.native("bg").running).toBe(0);
  });

  test.skipIf(process.platform !== "linux" || allowedCores().length < 2)("threads get the pool's placement and name", async () => {
    const tm = await m.start({ native: { bg: { max_threads: 2, core_allocation: { PinnedCores: { min: 0, max: 2 } }, policy: "BATCH" } } });
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const a = tm.native("bg").spawn(fixture("native-wait.ts"), { stop });
    const b = tm.native("bg").spawn(fixture("native-wait.ts"), { stop });
    const [ka, kb] = [readThread(await a.tid)!, readThread(await b.tid)!];
    expect([ka.name, ka.cores, ka.policy]).toEqual(["bg-0", [0], "BATCH"]);
    expect([kb.name, kb.cores, kb.policy]).toEqual(["bg-1", [1], "BATCH"]);
    const listed = tm.threads().filter((t) => t.role === "native").map((t) => t.name).sort();
    expect(listed).toEqual(["bg-0", "bg-1"]);
    Atomics.store(stop, 0, 1);
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
  });

  test("at max_threads running, spawn throws saying so; the count goes down when one exits", async () => {
    const tm = await m.start({ native: { bg: { max_threads: 1 } } });
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const first = tm.native("bg").spawn(fixture("native-wait.ts"), { stop });
    await first.tid;
    let err: any;
    try {
      tm.native("bg").spawn(fixture("native-wait.ts"), { stop });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PoolBusyError);
    expect(err.message).toContain("max_threads");
    expect(err.message).toContain('"bg"');
    first.terminate();
    await first.exited;
    expect(tm.native("bg").running).toBe(0);
    const second = tm.native("bg").spawn(fixture("native-echo.ts"), { value: 1, out: new Int32Array(new SharedArrayBuffer(8)) });
    expect(await second.exited).toBe(0);
  });

  test("a module that throws exits with 1; a module without a default export too", async () => {
    const tm = await m.start({ native: { bg: { max_threads: 2 } } });
    expect(await tm.native("bg").spawn(fixture("native-throw.ts")).exited).toBe(1);
    expect(await tm.native("bg").spawn(fixture("math.ts")).exited).toBe(1);
  });

  test("close stops running native threads", async () => {
    const tm = await m.start({ native: { bg: { max_threads: 1 } } });
    const t = tm.native("bg").spawn(fixture("native-wait.ts"), { stop: new Int32Array(new SharedArrayBuffer(4)) });
    const tid = await t.tid;
    await tm.close();
    await t.exited;
    await until(() => readThread(tid) === undefined, 5000, "the thread to exit");
  });
});
