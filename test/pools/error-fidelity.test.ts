/**
 * What a handler throws comes back whole (class, name, own fields, AggregateError.errors, the cause
 * chain with classes), and what cannot be encoded fails only its own task: through the public API,
 * on compute and async pools.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { DataCloneError, InvalidArgumentError, TaskError } from "../../src/index.ts";
import { managers, rejection } from "./helpers.ts";

const ERRORS = new URL("../fixtures/errors.ts", import.meta.url);
const m = managers();
afterEach(() => m.closeAll());

async function pools() {
  const tm = await m.start({ compute: { c: { module: ERRORS, max_threads: 2 } }, async: { a: { module: ERRORS, worker_threads: 1 } } });
  return { compute: tm.compute("c"), async: tm.async("a") };
}

for (const kind of ["compute", "async"] as const) {
  describe(`${kind} pool`, () => {
    const handler = kind === "compute" ? "syncThrow" : "asyncThrow";

    test("built-in classes and the cause chain keep their classes", async () => {
      const pool = (await pools())[kind];
      const t = await rejection(pool.run(handler, "type"));
      expect(t).toBeInstanceOf(TaskError);
      expect(t.name).toBe("TypeError");
      expect(t.original).toBeInstanceOf(TypeError);
      expect(Object.keys(t)).not.toContain("thrown"); // an Error was thrown: no `thrown: undefined` in logs
      const r = await rejection(pool.run(handler, "range-cause"));
      expect(r.original).toBeInstanceOf(RangeError);
      expect(r.cause).toBeInstanceOf(TypeError);
      expect(r.cause.message).toBe("inner");
      expect(r.cause.cause).toBeInstanceOf(SyntaxError);
      expect(r.cause.cause.message).toBe("root");
    });

    test("a custom class keeps its name and own fields", async () => {
      const pool = (await pools())[kind];
      const e = await rejection(pool.run(handler, "custom"));
      expect(e).toBeInstanceOf(TaskError);
      expect(e.name).toBe("HttpError");
      expect(e.message).toBe("unavailable");
      expect(e.status).toBe(503);
      expect(e.details).toEqual({ path: "/x", tries: [1, 2] });
      expect(e.stack).toContain("HttpError");
    });

    test("AggregateError keeps its errors, each with its class", async () => {
      const pool = (await pools())[kind];
      const e = await rejection(pool.run(handler, "aggregate"));
      expect(e.original).toBeInstanceOf(AggregateError);
      expect(e.errors).toHaveLength(2);
      expect(e.errors[0]).toBeInstanceOf(TypeError);
      expect(e.errors[1].name).toBe("HttpError");
      expect(e.errors[1].status).toBe(503);
    });

    test("non-Error throws keep the thrown value", async () => {
      const pool = (await pools())[kind];
      expect((await rejection(pool.run(handler, "string"))).thrown).toBe("plain string");
      expect((await rejection(pool.run(handler, "object"))).thrown).toEqual({ reason: "plain object", n: 1 });
    });

    test("errors that cannot be encoded fail only their own task and say what could not be sent; the thread keeps serving", async () => {
      const pool = (await pools())[kind];
      const bystanders = Array.from({ length: 50 }, (_, i) => (kind === "async" ? pool.run("slowEcho", [20, i]) : pool.run("echo", i)));
      const fn = await rejection(pool.run(handler, "fn-code"));
      expect(fn).toBeInstanceOf(TaskError);
      expect(fn.message).toBe("fn code");
      expect(String(fn.originalCode)).toContain("function");
      const sym = await rejection(pool.run(handler, "symbol-name"));
      expect(sym.message).toBe("symbol name");
      expect(sym.name).toBe("Symbol(n)"); // described as text: a Symbol cannot cross threads
      const huge = await rejection(pool.run(handler, "huge"));
      expect(huge).toBeInstanceOf(TaskError);
      expect(huge.message.length).toBeLessThan(100_000);
      expect(huge.message).toContain("truncated");
      expect(await Promise.all(bystanders)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(pool.metrics().crashed).toBe(0);
    });

    test("a result that cannot be sent rejects with DataCloneError naming the part; other tasks are untouched", async () => {
      const pool = (await pools())[kind];
      const name = kind === "compute" ? "unsendableResult" : "unsendableAsync";
      const e = await rejection(pool.run(name));
      expect(e).toBeInstanceOf(DataCloneError);
      expect(e).not.toBeInstanceOf(TaskError);
      expect(e.message).toContain(`result of handler "${name}"`);
      if (kind === "compute") expect(e.message).toContain("nested.f");
      expect(await pool.run("echo", "ok")).toBe("ok");
    });
  });
}

describe("exception safety", () => {
  test("a signal that is not an AbortSignal is refused before anything is queued", async () => {
    const { compute } = await pools();
    for (const bad of [{}, "x", 1, { aborted: false, addEventListener() {} }]) {
      const e = await rejection(compute.run("echo", 1, { signal: bad as never }));
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect(e.message).toContain("signal");
    }
    expect(compute.metrics().submitted).toBe(0);
    expect(compute.pending).toBe(0);
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => compute.run("echo", i)));
    expect(results[999]).toBe(999);
  });

  test("a completion whose settling throws is contained: the other completions of the batch still settle", async () => {
    const { compute } = await pools();
    const runs = Array.from({ length: 1000 }, (_, i) => compute.run("echo", i));
    // Break one task's entry the way a user-supplied object could: its resolve throws.
    type Entry = { settle: { resolve(v: unknown): void; reject(e: unknown): void } };
    const table = (compute as unknown as { main: { tasks: { inUse(): IterableIterator<[number, Entry]> } } }).main.tasks;
    const victim = table.inUse().next().value![1];
    victim.settle = {
      resolve: () => {
        throw new Error("poisoned");
      },
      reject: victim.settle.reject,
    };
    const errors: unknown[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => errors.push(a);
    try {
      const settled = await Promise.race([
        Promise.allSettled(runs.slice(1)),
        new Promise((r) => setTimeout(() => r("hung"), 10_000)),
      ]);
      expect(settled).not.toBe("hung");
    } finally {
      console.error = orig;
    }
    expect(compute.metrics().contained).toBe(1);
    expect(errors.length).toBe(1);
  });
});
