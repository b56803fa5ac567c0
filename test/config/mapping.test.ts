/** Name mapping: aliases, the default fallback (one warning per name), try* variants. */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { PoolNotFoundError } from "../../src/index.ts";
import { IO, MATH, managers } from "../pools/helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

describe("mapping", () => {
  test("aliases resolve to their pool, per kind", async () => {
    const tm = await m.start({
      compute: { cpu: { module: MATH, max_threads: 1 } },
      async: { io: { module: IO } },
      mapping: { http: "io", math: "cpu" },
    });
    expect(tm.async("http")).toBe(tm.async("io"));
    expect(tm.compute("math")).toBe(tm.compute("cpu"));
    expect(await tm.async("http").run("echo", 7)).toBe(7);
    expect(() => tm.compute("http")).toThrow(PoolNotFoundError); // "io" is not a compute pool
  });

  test("unmapped names go to mapping.default with one warning per name", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } }, mapping: { default: "cpu" } });
    const warn = spyOn(console, "warn").mockImplementation(() => {});
    try {
      expect(tm.compute("parsing")).toBe(tm.compute("cpu"));
      expect(tm.compute("parsing")).toBe(tm.compute("cpu"));
      expect(tm.compute("hashing")).toBe(tm.compute("cpu"));
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[0]![0])).toContain('"parsing"');
    } finally {
      warn.mockRestore();
    }
  });

  test("no pool and no default: PoolNotFoundError; try* give undefined", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    expect(() => tm.compute("gpu")).toThrow(PoolNotFoundError);
    expect(() => tm.native("bg")).toThrow(/no native pool named "bg"/);
    expect(tm.tryCompute("gpu")).toBeUndefined();
    expect(tm.tryAsync("cpu")).toBeUndefined();
    expect(tm.tryNative("bg")).toBeUndefined();
  });
});
