/** pool.run from the main thread: handlers, payload kinds, the task path, errors. */
import { afterEach, describe, expect, test } from "bun:test";
import {
  DataCloneError, HandlerNotFoundError, PayloadTooLargeError, PoolNotFoundError, TaskError,
} from "../../src/index.ts";
import { MATH, managers, rejection } from "./helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

describe("run", () => {
  test("runs a named export and resolves with its result", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    const cpu = tm.compute("cpu");
    expect(await cpu.run("add", [2, 3])).toBe(5);
    expect(cpu.handlers).toContain("add");
    const many = await Promise.all(Array.from({ length: 1000 }, (_, i) => cpu.run("add", [i, i])));
    expect(many.every((v, i) => v === 2 * i)).toBe(true);
    const stats = tm.metrics().cpu!;
    expect([stats.submitted, stats.completed, stats.failed, stats.pending]).toEqual([1001, 1001, 0, 0]);
    expect(stats.threads.reduce((n, t) => n + t.executed, 0)).toBe(1001);
  });

  test("an unknown handler fails at run() naming handler and pool; the pool keeps working", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const e = await rejection(tm.compute("cpu").run("nope", 1));
    expect(e).toBeInstanceOf(HandlerNotFoundError);
    expect(e.code).toBe("ERR_HANDLER_NOT_FOUND");
    expect(e.message).toContain('"nope"');
    expect(e.message).toContain('"cpu"');
    expect((await rejection(tm.compute("cpu").run("ecoh", 1))).message).toContain('(did you mean "echo"?)');
    expect(await tm.compute("cpu").run("add", [1, 1])).toBe(2);
  });

  test("bad input at every entry point rejects (never throws synchronously) with an error naming the parameter", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } }, async: { io: { module: MATH.href.replace("math", "io"), worker_threads: 1 } } });
    const cpu = tm.compute("cpu");
    for (const bad of [undefined, 42, null, {}, Symbol("x")]) {
      let p: Promise<unknown> | undefined;
      expect(() => {
        p = cpu.run(bad as unknown as string, 1);
      }).not.toThrow();
      const e = await rejection(p!);
      expect(e.code).toBe("ERR_INVALID_ARGUMENT");
      expect(e.message).toContain("handler");
    }
    for (const options of [5, "x", null, true]) {
      const e = await rejection((cpu.bind<typeof import("../fixtures/math.ts")>().add as (a: unknown, o: unknown) => Promise<unknown>)([1, 2], options));
      expect(e.code).toBe("ERR_INVALID_ARGUMENT");
      expect(e.message).toContain("options");
    }
    expect((await rejection(cpu.run("add", [1, 2], { signal: "no" as unknown as AbortSignal }))).code).toBe("ERR_INVALID_ARGUMENT");
    expect((await rejection(cpu.parallelFor("sum", 0, 10, 7 as unknown as object))).code).toBe("ERR_INVALID_ARGUMENT");
    expect((await rejection(cpu.parallelFor(undefined as unknown as string, 0, 10))).code).toBe("ERR_INVALID_ARGUMENT");
    expect((await rejection(tm.async("io").run(42 as unknown as string))).code).toBe("ERR_INVALID_ARGUMENT");
    expect((await rejection(cpu.run(null as unknown as string))).message).toContain("got null");
    expect(() => tm.compute(undefined as unknown as string)).toThrow(/compute\(name\) must be a pool name/);
    expect(() => tm.tryAsync(7 as unknown as string)).toThrow(/must be a pool name/);
    expect((await rejection(cpu.close({ timeoutMs: -1 }))).code).toBe("ERR_INVALID_ARGUMENT");
    expect(await cpu.run("add", [1, 1])).toBe(2); // nothing else disturbed
  });

  test("unknown pools: PoolNotFoundError, try* gives undefined", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    expect(() => tm.compute("gpu")).toThrow(PoolNotFoundError);
    expect(() => tm.async("cpu")).toThrow(/pool "cpu" is a compute pool, not an async pool: use tm.compute\("cpu"\)/);
    expect(() => tm.compute("cpus")).toThrow(/did you mean "cpu"/);
    expect(tm.tryCompute("gpu")).toBeUndefined();
    expect(tm.tryAsync("cpu")).toBeUndefined();
  });

  test("no postMessage on the task path", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    const cpu = tm.compute("cpu");
    const { MessagePort } = await import("node:worker_threads");
    const posts = { worker: 0, port: 0 };
    const wp = Worker.prototype.postMessage;
    const pp = MessagePort.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, ...a: any[]) {
      posts.worker++;
      return (wp as any).apply(this, a);
    };
    MessagePort.prototype.postMessage = function (this: any, ...a: any[]) {
      posts.port++;
      return (pp as any).apply(this, a);
    };
    try {
      const r = await Promise.all(Array.from({ length: 2000 }, (_, i) => cpu.run("echo", i % 2 ? `s${i}` : { i, s: "x" })));
      expect(r[3]).toBe("s3");
      expect(r[4]).toEqual({ i: 4, s: "x" });
    } finally {
      Worker.prototype.postMessage = wp;
      MessagePort.prototype.postMessage = pp;
    }
    expect(posts).toEqual({ worker: 0, port: 0 });
  });

  test("works when started from another directory (worker and module resolve by URL)", async () => {
    const script = `
      const { ThreadManager } = await import(${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)});
      const tm = await ThreadManager.start({ compute: { c: { module: ${JSON.stringify(MATH.href)}, max_threads: 1 } } });
      console.log(await tm.compute("c").run("add", [20, 22]));
      await tm.close();`;
    const p = Bun.spawnSync(["bun", "-e", script], { cwd: "/tmp" });
    expect(p.stderr.toString()).toBe("");
    expect(p.stdout.toString().trim()).toBe("42");
  });
});

describe("payloads", () => {
  const values: Array<[string, unknown]> = [
    ["int", 42], ["negative int", -7], ["-0", -0], ["float", 3.25], ["NaN", NaN], ["Infinity", -Infinity],
    ["big number", 2 ** 53 + 2], ["empty string", ""], ["ascii", "hello"], ["unicode", "héllo wörld ✓ 🧵"],
    ["true", true], ["false", false], ["null", null], ["undefined", undefined],
    ["int pair", [1, 2]], ["float pair", [1.5, 2]], ["array", [1, "two", [3], { four: 4 }, null]],
    ["object", { a: 1, b: "x", c: { d: [true, false] } }], ["object with undefined", { a: undefined, b: 1 }],
    ["nested typed array", { data: new Uint8Array([1, 2, 3]) }], ["Map", new Map([[1, "a"]])],
    ["Set", new Set([1, 2])], ["Date", new Date(1_700_000_000_000)], ["BigInt", 123n],
    ["Uint8Array", new Uint8Array([1, 2, 255])], ["Float64Array", new Float64Array([1.5, -2])],
    ["Int32Array view", new Int32Array(new ArrayBuffer(16), 4, 2).fill(9)], ["ArrayBuffer", new Uint16Array([1, 2]).buffer],
    ["DataView", new DataView(new ArrayBuffer(4))], ["Buffer", Buffer.from("buf")],
    ["large string", "x".repeat(200_000)], ["sparse array", [1, , 3]],
    ["Uint8Array of 100 KiB", new Uint8Array(100 << 10).map((_, i) => i)], ["Uint8Array view", new Uint8Array(new ArrayBuffer(64), 8, 16).fill(7)],
  ];
  for (const [name, value] of values) {
    test(`round trip: ${name}`, async () => {
      const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
      const back = await tm.compute("cpu").run("echo", value);
      if (typeof value === "number" && Number.isNaN(value)) expect(Number.isNaN(back)).toBe(true);
      else if (Object.is(value, -0)) expect(Object.is(back, -0)).toBe(true);
      else expect(back).toEqual(value as any);
      if (ArrayBuffer.isView(value)) {
        expect(back).toBeInstanceOf(value.constructor as any);
        // A copy of its own: not over shared memory, and no larger than its bytes.
        const view = back as ArrayBufferView;
        expect(view.buffer).not.toBeInstanceOf(SharedArrayBuffer);
        expect([view.byteOffset, view.buffer.byteLength]).toEqual([0, view.byteLength]);
      }
    });
  }

  test("an Error as a value comes back as an Error", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const back = (await tm.compute("cpu").run("echo", new TypeError("as data"))) as Error;
    expect(back).toBeInstanceOf(Error);
    expect(back.message).toBe("as data");
  });

  test("typed arrays are copied; SharedArrayBuffers and views on them are shared", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    const cpu = tm.compute("cpu");
    const copied = new Int32Array(4);
    await cpu.run("fillShared", copied);
    expect([...copied]).toEqual([0, 0, 0, 0]);
    const shared = new Int32Array(new SharedArrayBuffer(16));
    const back = (await cpu.run("fillShared", shared)) as Int32Array;
    expect([...shared]).toEqual([0, 2, 4, 6]); // written by the worker, seen here
    expect(back.buffer).toBe(shared.buffer); // the same object comes back
    const sab = new SharedArrayBuffer(8);
    expect(await cpu.run("echo", sab)).toBe(sab);
  });

  test("a function is a DataCloneError naming the handler; other tasks are not disturbed", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const cpu = tm.compute("cpu");
    const ok = cpu.run("add", [1, 2]);
    const e = await rejection(cpu.run("echo", { f: () => 1 }));
    expect(e).toBeInstanceOf(DataCloneError);
    expect(e.message).toContain('handler "echo"');
    expect(await rejection(cpu.run("echo", Symbol("s")))).toBeInstanceOf(DataCloneError);
    expect(await ok).toBe(3);
  });

  test("a payload larger than max_payload_bytes is a clear error naming the handler and the key", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1, max_payload_bytes: 1 << 20 } } });
    const e = await rejection(tm.compute("cpu").run("echo", new Uint8Array(2 << 20)));
    expect(e).toBeInstanceOf(PayloadTooLargeError);
    expect(e.message).toContain('handler "echo"');
    expect(e.message).toContain("max_payload_bytes");
    expect(await tm.compute("cpu").run("add", [1, 2])).toBe(3);
    // What a handler threw, too large to send back: the error names the handler, alone and inside a map chunk.
    const small = await m.start({ compute: { cpu: { module: MATH, max_threads: 1, max_payload_bytes: 65536 } } });
    for (const p of [small.compute("cpu").run("failBig", 128), small.compute("cpu").map("failBig", Array(40).fill(128))]) {
      const e2 = await rejection(p);
      expect(e2).toBeInstanceOf(PayloadTooLargeError);
      expect(String(e2.message).slice(0, 300)).toContain('error of handler "failBig"');
    }
  });
});

describe("errors", () => {
  test("a throwing handler rejects with TaskError keeping name, message, stack, cause and code", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const cpu = tm.compute("cpu");
    const e = await rejection(cpu.run("fail", "boom"));
    expect(e).toBeInstanceOf(TaskError);
    expect(e.code).toBe("ERR_TASK_FAILED");
    expect(e.name).toBe("RangeError");
    expect(e.message).toBe("boom");
    expect(e.stack).toContain("fixtures/math.ts");
    expect(e.cause).toBeInstanceOf(Error);
    expect(e.cause.message).toBe("root cause");
    expect(e.originalCode).toBe("E_TEST");
    expect(e.pool).toBe("cpu");
    expect(e.handler).toBe("fail");
    expect(await cpu.run("add", [1, 2])).toBe(3); // the thread keeps serving
  });

  test("a compute handler returning a Promise is an error that says to use an async pool", async () => {
    const tm = await m.start({ compute: { cpu: { module: new URL("../fixtures/io.ts", import.meta.url), max_threads: 1 } } });
    const e = await rejection(tm.compute("cpu").run("timer", 1));
    expect(e.message).toContain("async pool");
  });
});
