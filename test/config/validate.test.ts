/** Config validation: one test per rule, each asserting the error's key path. */
import { describe, expect, test } from "bun:test";
import { ConfigError, ThreadManager, type ThreadManagerConfig } from "../../src/index.ts";
import { checkConfig } from "../../src/config/validate.ts";
import { MATH, threadCount } from "../pools/helpers.ts";

const fixtures = new URL("../fixtures/", import.meta.url).pathname;

/** The paths of every error the config has. */
function paths(config: unknown): string[] {
  return checkConfig(config as ThreadManagerConfig, fixtures).errors.map((e) => e.path);
}

function firstError(config: unknown): ConfigError {
  const { errors } = checkConfig(config as ThreadManagerConfig, fixtures);
  expect(errors.length).toBeGreaterThan(0);
  expect(errors[0]).toBeInstanceOf(ConfigError);
  expect(errors[0]!.code).toBe("ERR_CONFIG");
  expect(errors[0]!.message.startsWith(errors[0]!.path)).toBe(true);
  return errors[0]!;
}

const cpu = (extra: Record<string, unknown> = {}) => ({ compute: { cpu: { module: "./math.ts", ...extra } } });

describe("config validation", () => {
  test("errors that show the fix: a near module name, a directory, a mapping typo, serve on a compute pool, max_queue_per_thread", () => {
    expect(firstError(cpu({ module: "./mathh.ts" })).message).toContain(`(did you mean ${fixtures}math.ts?)`);
    expect(firstError(cpu({ module: "./serve" })).message).toContain("is a directory, not a module file");
    const mapped = firstError({ ...cpu(), mapping: { fast: "cpuu" } });
    expect(mapped.path).toBe("mapping.fast");
    expect(mapped.message).toContain('(did you mean "cpu"?)');
    const serve = firstError(cpu({ serve: "./serve/server.ts" }));
    expect(serve.path).toBe("compute.cpu.serve");
    expect(serve.message).toContain("serving pools are async pools ([async.cpu]");
    expect(firstError(cpu({ worker_threads: 2 })).message).toContain("sized by max_threads");
    // A core set out of range is the one error: no made-up "OsDefault leaves this pool no core" for a pool that never asked for OsDefault.
    const outOfRange = { compute: { cpu: { module: "./math.ts", core_allocation: { DedicatedCoreSet: { min: 1, max: 8 } } } }, async: { io: { module: "./math.ts", core_allocation: { DedicatedCoreSet: { min: 0, max: 2 } } } } };
    expect(paths(outOfRange)).toEqual(["compute.cpu.core_allocation.DedicatedCoreSet.max"]);
    expect(firstError(cpu({ max_queue_per_thread: 8 })).path).toBe("compute.cpu.max_queue_per_thread");
    expect(paths(cpu({ max_queue_per_thread: 4096 }))).toEqual([]);
  });

  test("a good config has no errors", () => {
    expect(paths({
      default_core_allocation: "OsDefault",
      runtime: { core_allocation: { PinnedCores: { min: 0, max: 1 } } },
      compute: { cpu: { module: "./math.ts", static_threads: 1, max_threads: 2, policy: "BATCH", nice: 5, max_queue: 100 } },
      async: { io: { module: "./io.ts", worker_threads: 1, concurrency: 8 } },
      native: { bg: { max_threads: 2, policy: "FIFO", priority: 10 } },
      mapping: { http: "io", default: "cpu" },
    })).toEqual([]);
  });

  test("payload keys: max_payload_bytes, arena_bytes, arena_max_bytes", () => {
    expect(paths(cpu({ max_payload_bytes: 1 << 20, arena_bytes: 1 << 20, arena_max_bytes: 4 << 20 }))).toEqual([]);
    expect(paths({ async: { io: { module: "./io.ts", max_payload_bytes: 1 << 20, arena_bytes: 1 << 20 } } })).toEqual([]);
    expect(firstError(cpu({ max_payload_bytes: 1.5 })).path).toBe("compute.cpu.max_payload_bytes");
    expect(firstError(cpu({ max_payload_bytes: 10 })).message).toContain("must be in 65536..");
    expect(firstError(cpu({ arena_bytes: "8MB" })).path).toBe("compute.cpu.arena_bytes");
    const below = firstError(cpu({ arena_bytes: 8 << 20, arena_max_bytes: 1 << 20 }));
    expect(below.path).toBe("compute.cpu.arena_max_bytes");
    expect(below.message).toContain(`must be in ${8 << 20}..`);
    expect(firstError(cpu({ arena_bytes: 1 << 20, arena_max_bytes: 65 << 20 })).path).toBe("compute.cpu.arena_max_bytes"); // at most 64 segments
    expect(firstError({ native: { bg: { arena_bytes: 1 << 20 } } }).path).toBe("native.bg.arena_bytes");
  });

  test("unknown keys", () => {
    expect(firstError(cpu({ max_thread: 2 })).path).toBe("compute.cpu.max_thread");
    expect(firstError({ computer: {} }).path).toBe("computer");
    expect(firstError({ runtime: { threads: 1 } }).path).toBe("runtime.threads");
    expect(firstError(cpu({ core_allocation: { DedicatedCoreSet: { min: 0, max: 1, step: 1 } } })).path).toBe(
      "compute.cpu.core_allocation.DedicatedCoreSet.step",
    );
  });

  test("wrong types", () => {
    expect(firstError(cpu({ max_threads: "2" })).path).toBe("compute.cpu.max_threads");
    expect(firstError(cpu({ max_threads: 1.5 })).message).toContain("must be an integer");
    expect(firstError({ compute: { cpu: 3 } }).path).toBe("compute.cpu");
    expect(firstError(cpu({ module: 42 })).path).toBe("compute.cpu.module");
    expect(firstError({ mapping: { http: 1 }, ...cpu() }).path).toBe("mapping.http");
  });

  test("out-of-range numbers", () => {
    expect(firstError(cpu({ nice: 30 })).path).toBe("compute.cpu.nice");
    expect(firstError(cpu({ max_threads: 0 })).path).toBe("compute.cpu.max_threads");
    expect(firstError(cpu({ max_queue: 0 })).path).toBe("compute.cpu.max_queue");
    expect(firstError({ native: { bg: { policy: "FIFO", priority: 100 } } }).path).toBe("native.bg.priority");
    expect(firstError({ async: { io: { module: "./io.ts", concurrency: 0 } } }).path).toBe("async.io.concurrency");
    expect(firstError(cpu({ static_threads: 3, max_threads: 2 })).path).toBe("compute.cpu.static_threads");
  });

  test("empty and inverted core ranges", () => {
    const empty = firstError(cpu({ core_allocation: { DedicatedCoreSet: { min: 1, max: 1 } } }));
    expect(empty.path).toBe("compute.cpu.core_allocation.DedicatedCoreSet.max");
    expect(empty.message).toContain("greater than min");
    expect(firstError(cpu({ core_allocation: { PinnedCores: { min: 1, max: 0 } } })).path).toBe(
      "compute.cpu.core_allocation.PinnedCores.max",
    );
    expect(firstError(cpu({ core_allocation: { PinnedCores: { max: 1 } } })).path).toBe("compute.cpu.core_allocation.PinnedCores.min");
    expect(firstError(cpu({ core_allocation: { Pinned: { min: 0, max: 1 } } })).path).toBe("compute.cpu.core_allocation");
    expect(firstError(cpu({ core_allocation: "Everything" })).path).toBe("compute.cpu.core_allocation");
  });

  test("cores outside the process's allowed CPU set (sched_getaffinity)", () => {
    const e = firstError(cpu({ core_allocation: { DedicatedCoreSet: { min: 0, max: 4096 } } }));
    expect(e.path).toBe("compute.cpu.core_allocation.DedicatedCoreSet.max");
    expect(e.message).toContain("allowed CPU set");
    expect(firstError(cpu({ core_allocation: { PinnedCores: { min: 4000, max: 4001 } } })).path).toBe(
      "compute.cpu.core_allocation.PinnedCores.min",
    );
  });

  test("two DedicatedCoreSets that overlap", () => {
    const e = firstError({
      compute: {
        a: { module: "./math.ts", core_allocation: { DedicatedCoreSet: { min: 0, max: 1 } } },
        b: { module: "./math.ts", core_allocation: { DedicatedCoreSet: { min: 0, max: 1 } } },
      },
    });
    expect(e.path).toBe("compute.b.core_allocation.DedicatedCoreSet");
    expect(e.message).toContain("compute.a");
    // PinnedCores may not reach into another pool's DedicatedCoreSet either; the error names both keys
    const pinned = firstError({
      compute: { a: { module: "./math.ts", core_allocation: { DedicatedCoreSet: { min: 0, max: 1 } } } },
      native: { b: { core_allocation: { PinnedCores: { min: 0, max: 1 } } } },
    });
    expect(pinned.path).toBe("native.b.core_allocation.PinnedCores");
    expect(pinned.message).toContain("compute.a.core_allocation.DedicatedCoreSet");
    // ...but may share the main thread's set (main is not a pool)
    expect(paths({
      default_core_allocation: { DedicatedCoreSet: { min: 0, max: 1 } },
      native: { b: { core_allocation: { PinnedCores: { min: 0, max: 1 } } } },
    })).toEqual([]);
  });

  test("nice with FIFO/RR, priority with OTHER/BATCH, unknown policies", () => {
    expect(firstError({ native: { bg: { policy: "FIFO", nice: 5 } } }).path).toBe("native.bg.nice");
    expect(firstError({ native: { bg: { policy: "RR", nice: -1 } } }).path).toBe("native.bg.nice");
    expect(firstError(cpu({ priority: 10 })).path).toBe("compute.cpu.priority");
    expect(firstError(cpu({ policy: "BATCH", priority: 10 })).path).toBe("compute.cpu.priority");
    expect(firstError(cpu({ policy: "fifo" })).path).toBe("compute.cpu.policy");
  });

  test("a module that does not exist", () => {
    const e = firstError(cpu({ module: "./no-such-module.ts" }));
    expect(e.path).toBe("compute.cpu.module");
    expect(e.message).toContain("no-such-module.ts");
    expect(firstError({ async: { io: {} } }).path).toBe("async.io.module");
  });

  test("a mapping to a pool that does not exist", () => {
    const e = firstError({ ...cpu(), mapping: { http: "io" } });
    expect(e.path).toBe("mapping.http");
    expect(e.message).toContain('"io"');
  });

  test("pool names are unique across kinds", () => {
    expect(firstError({ ...cpu(), native: { cpu: {} } }).path).toBe("native.cpu");
  });

  test("every error is reported, not just the first", () => {
    expect(paths({ compute: { cpu: { module: "./nope.ts", nice: 99, max_threads: -1 } }, mapping: { x: "y" } })).toEqual([
      "compute.cpu.nice", "compute.cpu.max_threads", "compute.cpu.module", "mapping.x",
    ]);
  });

  test("start() throws the first ConfigError with all of them in .errors, and starts no thread", async () => {
    const before = threadCount();
    let err: any;
    try {
      await ThreadManager.start({ compute: { ok: { module: MATH, max_threads: 2 }, bad: { module: "./missing.ts" } } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.path).toBe("compute.bad.module");
    expect(err.errors.length).toBe(1);
    expect(threadCount()).toBeLessThanOrEqual(before);
  });

  test("a module with a syntax error says where; one exporting `then` is refused, not a hang", async () => {
    const start = (file: string) => ThreadManager.start({ compute: { cpu: { module: new URL(`../fixtures/${file}`, import.meta.url), max_threads: 1 } } }).then(
      (tm) => tm.close().then(() => undefined),
      (e) => e,
    );
    const syntax = await start("syntax-error.ts");
    expect(syntax.code).toBe("ERR_MODULE_LOAD");
    expect(syntax.message).toContain("syntax-error.ts:3:");
    expect(syntax.message).toContain("return a + ;");
    const then = await start("exports-then.ts");
    expect(then.code).toBe("ERR_MODULE_LOAD");
    expect(then.message).toContain('exports "then"');
    const star = await start("exports-then-star.ts"); // through export * from: the namespace has it too
    expect(star.code).toBe("ERR_MODULE_LOAD");
    expect(star.message).toContain('exports "then"');
  }, 20_000);

  test("a pool that fails while starting takes the others down with it", async () => {
    let err: any;
    try {
      await ThreadManager.start({
        compute: { ok: { module: MATH, max_threads: 2 }, broken: { module: new URL("../fixtures/broken-module.ts", import.meta.url) } },
      });
    } catch (e) {
      err = e;
    }
    expect(err?.code).toBe("ERR_MODULE_LOAD");
    expect(err.message).toContain("fails to load");
    const names = (await import("../../src/platform/proc.ts")).listThreads().map((t) => t.name);
    expect(names.filter((n) => /^(ok|broken)-\d$/.test(n))).toEqual([]);
  });
});

describe("TOML", () => {
  test("fromToml parses, resolves modules against baseDir, and runs", async () => {
    const tm = await ThreadManager.fromToml(
      `
      [compute.cpu]
      module = "./math.ts"
      max_threads = 1
      core_allocation = "OsDefault"

      [mapping]
      calc = "cpu"
      `,
      { baseDir: fixtures },
    );
    try {
      expect(await tm.compute("calc").run("add", [40, 2])).toBe(42);
    } finally {
      await tm.close();
    }
  });

  test("fromFile resolves modules against the file's directory", async () => {
    const dir = `/tmp/btm-toml-${process.pid}`;
    await Bun.write(`${dir}/threads.toml`, `[compute.cpu]\nmodule = "./handlers.ts"\nmax_threads = 1\n`);
    await Bun.write(`${dir}/handlers.ts`, `export function twice(n) { return 2 * n; }\n`);
    const tm = await ThreadManager.fromFile(`${dir}/threads.toml`);
    try {
      expect(await tm.compute("cpu").run("twice", 21)).toBe(42);
    } finally {
      await tm.close();
    }
  });

  test("a TOML syntax error names the line", async () => {
    let err: any;
    try {
      await ThreadManager.fromToml("[compute.cpu\nmodule = 1");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.path).toContain("line 1");
  });

  test("TOML dotted keys give the same config as the object form", async () => {
    const { parseConfigToml } = await import("../../src/main/thread-manager.ts");
    expect(parseConfigToml(`[compute.cpu]\nmodule = "./m.ts"\ncore_allocation.DedicatedCoreSet = { min = 1, max = 2 }\n`)).toEqual({
      compute: { cpu: { module: "./m.ts", core_allocation: { DedicatedCoreSet: { min: 1, max: 2 } } } },
    });
  });
});

describe("errors print well", () => {
  test("a ConfigError with 7 errors inspects as a short list of key paths and messages", async () => {
    const err = await ThreadManager.start({
      compute: { cpu: { module: "./math.ts", max_thread: 2, nice: 40, polcy: "BATCH", max_queue: 0 } },
      async: { io: { module: "./nope.ts", concurency: 3 } },
      mapping: { http: "nowhere" },
    } as never, { baseDir: fixtures }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.errors).toHaveLength(7);
    const shown = Bun.inspect(err);
    expect(shown.split("\n").length).toBeLessThan(15);
    for (const e of err.errors) expect(shown).toContain(e.path);
    expect(shown).not.toContain("    at "); // no stack per entry
    expect(shown).toContain('compute.cpu.max_thread: unknown key (did you mean "max_threads"?)');
    expect(shown).toContain('compute.cpu.polcy: unknown key (did you mean "policy"?)');
    expect(shown).toContain('async.io.concurency: unknown key (did you mean "concurrency"?)');
    expect(Object.keys(err)).not.toContain("errors"); // not printed twice by Bun's error printer
  });

  test("every ConfigError path names the key as written: default_core_allocation", () => {
    const e = firstError({ default_core_allocation: { DedicatedCoreSet: { min: 1, max: 1 } } });
    expect(e.path).toBe("default_core_allocation.DedicatedCoreSet.max");
    expect(firstError({ default_core_allocation: "Everywhere" }).path).toBe("default_core_allocation");
  });
});

describe("dedicated means dedicated", () => {
  const two = { min: 0, max: 1 };
  test("PinnedCores or default_core_allocation inside a pool's DedicatedCoreSet: an error naming both keys", () => {
    const pinned = firstError({
      compute: { a: { module: "./math.ts", core_allocation: { DedicatedCoreSet: two } } },
      async: { b: { module: "./io.ts", core_allocation: { PinnedCores: two } } },
    });
    expect(pinned.path).toBe("async.b.core_allocation.PinnedCores");
    expect(pinned.message).toContain("compute.a.core_allocation.DedicatedCoreSet");
    const main = firstError({
      default_core_allocation: { PinnedCores: two },
      compute: { a: { module: "./math.ts", core_allocation: { DedicatedCoreSet: two } } },
    });
    expect(main.path).toBe("default_core_allocation.PinnedCores");
    expect(main.message).toContain("compute.a.core_allocation.DedicatedCoreSet");
  });

  test("a pool's DedicatedCoreSet leaves OsDefault for the other pools, main and Bun's helpers; exclusive_dedicated_cores = false keeps sharing", () => {
    if (navigator.hardwareConcurrency < 2) return;
    const config = {
      compute: { a: { module: "./math.ts", core_allocation: { DedicatedCoreSet: { min: 1, max: 2 } } }, b: { module: "./math.ts" } },
    };
    const { resolved } = checkConfig(config as ThreadManagerConfig, fixtures);
    const b = resolved.pools.find((p) => p.name === "b")!;
    expect(b.placement.cores).not.toContain(1);
    expect(resolved.main?.cores).not.toContain(1);
    expect(resolved.runtime?.cores).not.toContain(1);
    const shared = checkConfig({ ...config, exclusive_dedicated_cores: false } as ThreadManagerConfig, fixtures).resolved;
    expect(shared.pools.find((p) => p.name === "b")!.placement.cores).toContain(1);
    expect(shared.main).toBeUndefined();
    expect(firstError({ exclusive_dedicated_cores: "yes" }).path).toBe("exclusive_dedicated_cores");
  });

  test("OsDefault with every core dedicated elsewhere is an error that says what to do", () => {
    if (navigator.hardwareConcurrency !== 2) return;
    const e = firstError({
      compute: { a: { module: "./math.ts", core_allocation: { DedicatedCoreSet: { min: 0, max: 1 } } }, b: { module: "./math.ts", core_allocation: { DedicatedCoreSet: { min: 1, max: 2 } } } },
      async: { io: { module: "./io.ts" } },
    });
    expect(e.path).toBe("async.io.core_allocation");
    expect(e.message).toContain("exclusive_dedicated_cores = false");
  });
});
