import { describe, expect, test } from "bun:test";
import { deserialize, serialize } from "bun:jsc";
import { decodeThrown, describeUnsendable, encodeThrown, taskErrorFrom } from "../../src/common/error-codec.ts";
import { TaskError } from "../../src/errors.ts";

/** Encodes, checks the wire is lossless JSON, and decodes the JSON copy. */
function trip(thrown: unknown, limits?: Parameters<typeof encodeThrown>[1]) {
  const { wire, problems } = encodeThrown(thrown, limits);
  const json = JSON.parse(JSON.stringify(wire));
  expect(json).toEqual(wire);
  return { wire: wire as any, problems, out: decodeThrown(json) as any };
}

/** Everything a decoded value carries, for comparing two decodes. */
function shape(v: any, depth = 0): unknown {
  if (!(v instanceof Error) || depth > 20) return v;
  const own = Object.keys(v).map((k) => [k, shape(v[k as never], depth + 1)]);
  return {
    ctor: v.constructor, name: v.name, message: v.message, stack: v.stack, own,
    errors: v instanceof AggregateError ? v.errors.map((e) => shape(e, depth + 1)) : undefined,
    cause: Object.hasOwn(v, "cause") ? ["cause", shape(v.cause, depth + 1)] : "none",
  };
}

describe("built-in classes", () => {
  for (const C of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
    test(C.name, () => {
      const e = new C("bad thing");
      const { wire, problems, out } = trip(e);
      expect(problems).toEqual([]);
      expect(wire).toEqual({ k: "error", cls: C.name, name: C.name, message: "bad thing", stack: e.stack, fields: [] });
      expect(out.constructor).toBe(C);
      expect(out.name).toBe(C.name);
      expect(out.message).toBe("bad thing");
      expect(out.stack).toBe(e.stack!);
      expect(Object.hasOwn(out, "cause")).toBe(false);
    });
  }

  test("DOMException keeps its name and code", () => {
    const { wire, out, problems } = trip(new DOMException("stopped", "AbortError"));
    expect(problems).toEqual([]);
    expect(wire.cls).toBe("DOMException");
    expect(out).toBeInstanceOf(DOMException);
    expect([out.name, out.message, out.code]).toEqual(["AbortError", "stopped", 20]);
  });

  test("AggregateError, nested, each error with its class", () => {
    const inner = new AggregateError([new RangeError("r")], "inner");
    const { wire, out, problems } = trip(new AggregateError([new TypeError("t"), inner, "plain"], "outer"));
    expect(problems).toEqual([]);
    expect(wire.errors.map((n: any) => n.cls ?? n.k)).toEqual(["TypeError", "AggregateError", "json"]);
    expect(out).toBeInstanceOf(AggregateError);
    expect(out.message).toBe("outer");
    expect(out.errors[0]).toBeInstanceOf(TypeError);
    expect(out.errors[0].message).toBe("t");
    expect(out.errors[1]).toBeInstanceOf(AggregateError);
    expect(out.errors[1].errors[0]).toBeInstanceOf(RangeError);
    expect(out.errors[1].errors[0].message).toBe("r");
    expect(out.errors[2]).toBe("plain");
    expect(Object.keys(out)).toEqual([]);
  });
});

describe("custom classes and own fields", () => {
  class HttpError extends Error {
    status = 404;
    constructor(message: string) {
      super(message);
      this.name = "HttpError";
    }
  }

  test("a custom subclass comes back as an Error with its name and fields", () => {
    const { wire, out, problems } = trip(new HttpError("not found"));
    expect(problems).toEqual([]);
    expect(wire.cls).toBe("Error");
    expect(wire.name).toBe("HttpError");
    expect(wire.fields).toEqual([["status", { k: "json", v: 404 }]]);
    expect(out.constructor).toBe(Error);
    expect(out).not.toBeInstanceOf(HttpError);
    expect([out.name, out.message, out.status]).toEqual(["HttpError", "not found", 404]);
  });

  test("a subclass of a built-in keeps the built-in", () => {
    class Overflow extends RangeError { override name = "Overflow"; }
    const { out } = trip(new Overflow("too big"));
    expect(out).toBeInstanceOf(RangeError);
    expect(out.name).toBe("Overflow");
  });

  test("JSON, structured-clone and error-valued fields", () => {
    const e = Object.assign(new Error("x"), {
      code: "E_X", details: { a: [1, "b", null], ok: true }, big: 10n, when: new Date(5), map: new Map([["k", 1]]),
      bytes: new Uint8Array([1, 2]), nan: NaN, none: undefined, inner: new TypeError("in"),
    });
    const { wire, out, problems } = trip(e);
    expect(problems).toEqual([]);
    expect(wire.fields.map(([k, n]: any) => [k, n.k])).toEqual([
      ["code", "json"], ["details", "json"], ["big", "ser"], ["when", "ser"], ["map", "ser"],
      ["bytes", "ser"], ["nan", "ser"], ["none", "undefined"], ["inner", "error"],
    ]);
    expect(wire.fields[1][1]).toEqual({ k: "json", v: { a: [1, "b", null], ok: true } });
    expect(out.code).toBe("E_X");
    expect(out.details).toEqual({ a: [1, "b", null], ok: true });
    expect(out.big).toBe(10n);
    expect(out.when).toEqual(new Date(5));
    expect(out.map).toEqual(new Map([["k", 1]]));
    expect(out.bytes).toEqual(new Uint8Array([1, 2]));
    expect(out.nan).toBeNaN();
    expect(Object.hasOwn(out, "none") && out.none === undefined).toBe(true);
    expect(out.inner).toBeInstanceOf(TypeError);
    expect(out.inner.message).toBe("in");
  });

  test("fields named like the wire's keys, and __proto__, round-trip exactly", () => {
    const e = new TypeError("m");
    for (const k of ["k", "cls", "fields", "errors", "v", "b64", "__error", "__proto__"]) {
      Object.defineProperty(e, k, { value: { k: "error", cls: "RangeError", v: k }, enumerable: true, writable: true, configurable: true });
    }
    const { out, problems } = trip(e);
    expect(problems).toEqual([]);
    expect(out).toBeInstanceOf(TypeError);
    expect(Object.getPrototypeOf(out)).toBe(TypeError.prototype);
    expect(Object.keys(out)).toEqual(["k", "cls", "fields", "errors", "v", "b64", "__error", "__proto__"]);
    for (const k of Object.keys(out)) expect(out[k]).toEqual({ k: "error", cls: "RangeError", v: k });
  });

  test("a thrown plain object shaped like a wire node stays a plain object", () => {
    const fake = { k: "error", cls: "TypeError", name: "TypeError", message: "m", fields: [] };
    const { wire, out } = trip(fake);
    expect(wire).toEqual({ k: "json", v: fake });
    expect(out).toEqual(fake);
    expect(out).not.toBeInstanceOf(Error);
  });
});

describe("cause chain", () => {
  test("classes are kept along the chain", () => {
    const e = new RangeError("outer", { cause: new TypeError("middle", { cause: "root" }) });
    const { out, problems } = trip(e);
    expect(problems).toEqual([]);
    expect(out).toBeInstanceOf(RangeError);
    expect(out.cause).toBeInstanceOf(TypeError);
    expect(out.cause.message).toBe("middle");
    expect(out.cause.cause).toBe("root");
    expect(Object.hasOwn(out.cause.cause, "cause")).toBe(false);
  });

  test("an explicit undefined cause stays an own undefined cause", () => {
    const { wire, out } = trip(new Error("x", { cause: undefined }));
    expect(wire.cause).toEqual({ k: "undefined" });
    expect(Object.hasOwn(out, "cause")).toBe(true);
    expect(out.cause).toBeUndefined();
  });

  test("cycles are cut and reported", () => {
    const a = new Error("a");
    const b = new RangeError("b", { cause: a });
    (a as any).cause = b;
    const { out, problems } = trip(a);
    expect(problems).toEqual(["cause.cause (a cycle back to an enclosing error)"]);
    expect(out.cause).toBeInstanceOf(RangeError);
    expect(out.cause.cause).toBe("[circular: Error: a]");

    const self = new Error("self");
    (self as any).cause = self;
    expect(trip(self).problems).toEqual(["cause (a cycle back to an enclosing error)"]);
  });

  test("depth is limited", () => {
    let e: Error = new Error("e0");
    for (let i = 1; i < 20; i++) e = new Error(`e${i}`, { cause: e });
    const { out, problems } = trip(e);
    expect(problems).toEqual([`${Array(16).fill("cause").join(".")} (nested deeper than 16 errors)`]);
    let x = out;
    for (let i = 19; i > 3; i--, x = x.cause) expect(x.message).toBe(`e${i}`);
    expect(x).toBe("[not sent: Error: e3]");
  });
});

describe("never throws while encoding", () => {
  test("Symbol name and function code", () => {
    const e = new Error("m");
    e.name = Symbol("tag") as never;
    (e as any).code = function foo() {};
    const { out, problems, wire } = trip(e);
    // Bun builds the stack lazily from the name, so reading it throws too: reported, not fatal.
    expect(problems).toEqual(["name (a symbol)", "stack (a getter that threw TypeError: Cannot convert a symbol to a string)", "code (a function)"]);
    expect(wire.name).toBe("Symbol(tag)");
    expect(out.name).toBe("Symbol(tag)");
    expect(out.code).toBe("[function foo]");
  });

  test("a 2 MB message is truncated with a note; the limit is a parameter", () => {
    const e = new Error("x".repeat(2 * 1024 * 1024));
    const { out, problems } = trip(e);
    expect(problems[0]).toBe("message (2097152 characters, truncated to 65536)");
    expect(problems[1]).toMatch(/^stack \(\d+ characters, truncated to 65536\)$/);
    expect(out.message).toBe(`${"x".repeat(65536)}… [truncated: 2097152 characters in all]`);
    const small = trip(new Error("abcdef"), { maxString: 3 });
    expect(small.out.message).toBe("abc… [truncated: 6 characters in all]");
    expect(small.problems.slice(0, 2)).toEqual(["name (5 characters, truncated to 3)", "message (6 characters, truncated to 3)"]);
  });

  test("truncation keeps surrogate pairs whole", () => {
    expect(trip(new Error("ab😀"), { maxString: 3 }).out.message).toBe("ab… [truncated: 4 characters in all]");
  });

  test("getters that throw, unclonable and oversized fields", () => {
    const e = new Error("m");
    Object.defineProperty(e, "bad", { enumerable: true, get() { throw new TypeError("nope"); } });
    Object.assign(e, { weak: new WeakMap(), details: { a: 1, fn() {} }, huge: "y".repeat(70000), blob: new Uint8Array(60000) });
    const { out, problems } = trip(e);
    expect(problems.slice(0, 4)).toEqual([
      "bad (a getter that threw TypeError: nope)",
      "weak (a WeakMap)",
      "details (an object whose `fn` is a function)",
      "huge (70000 characters, truncated to 65536)",
    ]);
    expect(problems[4]).toMatch(/^blob \(800\d\d characters encoded, over the limit\)$/);
    expect(problems).toHaveLength(5);
    expect(out.bad).toBe("[a getter that threw TypeError: nope]");
    expect(out.weak).toBe("[a WeakMap]");
    expect(out.details).toBe("[an object whose `fn` is a function]");
    expect(out.huge).toBe(`${"y".repeat(65536)}… [truncated: 70000 characters in all]`);
    expect(out.blob).toBe("[Uint8Array too large to send]");
  });

  test("a getter on message that throws", () => {
    class Odd extends Error { override get message(): string { throw new Error("no message"); } }
    const { out, problems } = trip(new Odd());
    expect(problems).toEqual(["message (a getter that threw Error: no message)"]);
    expect(out.message).toBe("[a getter that threw Error: no message]");
  });

  test("a Proxy whose traps throw still encodes", () => {
    const p = new Proxy(new Error("x"), { get() { throw new Error("trap"); }, ownKeys() { throw new Error("keys"); } });
    const { out, problems } = trip(p);
    expect(typeof out).toBe("string");
    expect(problems.at(-1)).toBe("the thrown value (encoding it threw Error: keys)");
  });

  test("the total budget drops what does not fit", () => {
    const errs = Array.from({ length: 50 }, (_, i) => new Error(`${i}`.padEnd(1000, ".")));
    const { wire, problems } = trip(new AggregateError(errs, "many"), { maxTotal: 10000 });
    expect(JSON.stringify(wire).length).toBeLessThan(60000);
    expect(wire.errors.length).toBeLessThan(10);
    expect(problems.length).toBeLessThanOrEqual(3); // perhaps a truncated message or stack, then one line for the rest
    expect(problems.at(-1)).toBe(`errors[${wire.errors.length}] and ${49 - wire.errors.length} more (over the size budget, dropped)`);
  });
});

describe("non-error thrown values", () => {
  const cases: [string, unknown, unknown][] = [
    ["string", "boom", { k: "json", v: "boom" }],
    ["number", 42, { k: "json", v: 42 }],
    ["null", null, { k: "json", v: null }],
    ["undefined", undefined, { k: "undefined" }],
    ["object", { a: 1, b: ["c"] }, { k: "json", v: { a: 1, b: ["c"] } }],
  ];
  for (const [what, v, wire] of cases) {
    test(what, () => {
      const r = trip(v);
      expect(r.wire).toEqual(wire);
      expect(r.out).toEqual(v);
      expect(r.problems).toEqual([]);
    });
  }

  test("BigInt and Map go through serialize", () => {
    expect(trip(7n).wire.k).toBe("ser");
    expect(trip(7n).out).toBe(7n);
    expect(trip(new Map([[1, 2]])).out).toEqual(new Map([[1, 2]]));
  });

  test("a thrown function or symbol becomes its description", () => {
    expect(trip(function f() {})).toMatchObject({ out: "[function f]", problems: ["the thrown value (a function)"] });
    expect(trip(Symbol("s"))).toMatchObject({ out: "Symbol(s)", problems: ["the thrown value (a symbol)"] });
  });
});

test("JSON and serialize round trips of the wire decode identically", () => {
  const e = Object.assign(
    new AggregateError([new TypeError("t", { cause: 1n }), new DOMException("d", "AbortError")], "agg", { cause: new RangeError("r") }),
    { status: 500, when: new Date(1), nested: { deep: [1, 2] } },
  );
  const { wire } = encodeThrown(e);
  const direct = shape(decodeThrown(wire));
  expect(shape(decodeThrown(JSON.parse(JSON.stringify(wire))))).toEqual(direct);
  expect(shape(decodeThrown(deserialize(serialize(wire))))).toEqual(direct);
  expect((direct as any).ctor).toBe(AggregateError);
});

describe("taskErrorFrom", () => {
  test("an error: TaskError with original, fields, cause, originalCode", () => {
    const thrown = Object.assign(new RangeError("boom", { cause: new TypeError("root") }), { code: "E_X", status: 503, pool: "mine", handler: "x" });
    const t = taskErrorFrom("cpu", "work", encodeThrown(thrown).wire);
    expect(t).toBeInstanceOf(TaskError);
    expect([t.code, t.name, t.message, t.stack, t.pool, t.handler]).toEqual(["ERR_TASK_FAILED", "RangeError", "boom", thrown.stack!, "cpu", "work"]);
    expect((t as any).originalCode).toBe("E_X");
    expect((t as any).status).toBe(503);
    expect(t.cause).toBeInstanceOf(TypeError);
    expect(t.original).toBeInstanceOf(RangeError);
    expect((t.original as any).pool).toBe("mine");
    expect(t.errors).toBeUndefined();
    expect(Object.hasOwn(t, "original")).toBe(true);
  });

  test("an AggregateError: errors with their classes", () => {
    const t = taskErrorFrom("p", "h", encodeThrown(new AggregateError([new SyntaxError("s")], "agg")).wire);
    expect(t.name).toBe("AggregateError");
    expect(t.errors![0]).toBeInstanceOf(SyntaxError);
    expect(t.original).toBeInstanceOf(AggregateError);
    expect(Object.hasOwn(t, "cause")).toBe(false);
  });

  test("a non-error value is `thrown`", () => {
    const t = taskErrorFrom("p", "h", encodeThrown("boom").wire);
    expect([t.message, t.thrown, t.original]).toEqual(["handler threw boom", "boom", undefined]);
    const odd = taskErrorFrom("p", "h", encodeThrown({ toString: "x" }).wire);
    expect(odd.message).toBe('handler threw {"toString":"x"}');
    expect(odd.thrown).toEqual({ toString: "x" });
  });
});

describe("describeUnsendable", () => {
  const what = 'result of handler "h"';
  const cases: [unknown, string][] = [
    [{ fn() {} }, 'result of handler "h": field `fn` is a function'],
    [[1, Symbol("s")], 'result of handler "h": field `[1]` is a symbol'],
    [{ a: { b: [new WeakMap()] } }, 'result of handler "h": field `a.b[0]` is a WeakMap'],
    [{ m: new Map([["k", () => 1]]) }, 'result of handler "h": field `m.get("k")` is a function'],
    [() => 1, 'result of handler "h" is a function'],
    [new WeakSet(), 'result of handler "h" is a WeakSet'],
  ];
  for (const [value, message] of cases) test(message, () => expect(describeUnsendable(value, what)).toBe(message));

  test("quotes the clone error when no part can be pointed at", () => {
    expect(describeUnsendable(1, what, new DOMException("The object can not be cloned.", "DataCloneError")))
      .toBe('result of handler "h": DataCloneError: The object can not be cloned.');
  });
});

test("odd name, message and thrown values never make encoding or taskErrorFrom throw", () => {
  const e = new Error("m");
  e.name = Object.create(null) as never;
  (e as any).message = { id: 1n };
  const { out, problems } = trip(e);
  expect([out.name, out.message]).toEqual(["{}", "[object]"]);
  expect(problems).toEqual([]);
  const t = taskErrorFrom("p", "h", encodeThrown({ id: 1n, toJSON() { throw new Error("no"); } }).wire);
  expect(t.message).toBe("handler threw [an object whose `toJSON` is a function]");
  const big = taskErrorFrom("p", "h", encodeThrown({ id: 1n }).wire);
  expect([big.message, big.thrown]).toEqual(["handler threw [object]", { id: 1n }]);
  expect(taskErrorFrom("p", "h", encodeThrown(new Map([[1, 2n]])).wire).message).toBe("handler threw [Map]");
});
