/** Async pools: concurrency per thread, a live event loop, errors. */
import { afterEach, describe, expect, test } from "bun:test";
import { TaskError } from "../../src/index.ts";
import { IO, managers, rejection } from "./helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

describe("async pool", () => {
  test("runs up to `concurrency` tasks in flight on one thread, never more", async () => {
    const tm = await m.start({ async: { io: { module: IO, worker_threads: 1, concurrency: 4 } } });
    const io = tm.async("io");
    const maxima = await Promise.all(Array.from({ length: 16 }, () => io.run<number>("hold", 20)));
    expect(Math.max(...maxima)).toBe(4);
  }, 20_000);

  test("the thread's event loop serves timers, fetch and file I/O inside handlers", async () => {
    const tm = await m.start({ async: { io: { module: IO, worker_threads: 1, concurrency: 8 } } });
    const io = tm.async("io");
    using server = Bun.serve({ port: 0, fetch: () => new Response("from main") });
    const file = `/tmp/btm-io-${process.pid}.txt`;
    await Bun.write(file, "file body");
    const [t, f, r] = await Promise.all([io.run("timer", 5), io.run("fetchText", server.url.href), io.run("readFile", file)]);
    expect(t).toBe(true);
    expect(f).toBe("from main");
    expect(r).toBe("file body");
  }, 20_000);

  test("a rejecting async handler gives TaskError; the thread keeps serving", async () => {
    const tm = await m.start({ async: { io: { module: IO, worker_threads: 2, concurrency: 2 } } });
    const e = await rejection(tm.async("io").run("failLater", "async boom"));
    expect(e).toBeInstanceOf(TaskError);
    expect(e.name).toBe("TypeError");
    expect(e.message).toBe("async boom");
    expect(await tm.async("io").run("echo", { still: "here" })).toEqual({ still: "here" });
  });

  test("ctx.join in an async pool says to use Promise.all", async () => {
    const tm = await m.start({ async: { io: { module: new URL("../fixtures/math.ts", import.meta.url), worker_threads: 1 } } });
    expect((await rejection(tm.async("io").run("fib", 20))).message).toContain("Promise.all");
  });
});
