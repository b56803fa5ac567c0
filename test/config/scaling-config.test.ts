/** The thread-kind and [scaler] keys: defaults, and a ConfigError with `.path` for each bad value. */
import { describe, expect, test } from "bun:test";
import { ConfigError, type ThreadManagerConfig } from "../../src/index.ts";
import { checkConfig, resolveConfig } from "../../src/config/validate.ts";
import { parseConfigToml } from "../../src/main/thread-manager.ts";

const fixtures = new URL("../fixtures/", import.meta.url).pathname;
const pin = (n: number) => ({ PinnedCores: { min: 0, max: n } });
const cpu = (extra: Record<string, unknown> = {}) => ({ compute: { cpu: { module: "./math.ts", ...extra } } });
const io = (extra: Record<string, unknown> = {}) => ({ async: { io: { module: "./io.ts", ...extra } } });

function errorAt(config: unknown): ConfigError {
  const { errors } = checkConfig(config as ThreadManagerConfig, fixtures);
  expect(errors.length).toBeGreaterThan(0);
  expect(errors[0]).toBeInstanceOf(ConfigError);
  return errors[0]!;
}

const resolved = (config: unknown) => resolveConfig(config as ThreadManagerConfig, fixtures).pools[0]!;

describe("thread kinds", () => {
  test("defaults: static 1, dynamic = cores - static (at least 1), max = cores; the scaler's defaults", () => {
    const p = resolved(cpu({ core_allocation: pin(2) }));
    expect(p.threads).toBe(2);
    expect(p.scaling).toEqual({
      staticThreads: 1, dynamicThreads: 1, intervalMs: 90, window: 10, lowWatermark: 2, standaloneIdleMs: 10_000, maxSpawnPerTick: 2,
    });
    const one = resolved(cpu({ core_allocation: pin(1) }));
    expect([one.threads, one.scaling!.staticThreads, one.scaling!.dynamicThreads]).toEqual([1, 1, 0]); // no room for a dynamic one
    const wide = resolved(cpu({ static_threads: 2, max_threads: 8, core_allocation: pin(2) }));
    expect([wide.threads, wide.scaling!.staticThreads, wide.scaling!.dynamicThreads]).toEqual([8, 2, 1]); // at least 1
  });

  test("TOML: the scaler table and inline table both work; enabled = false is a fixed pool of max_threads", () => {
    const toml = parseConfigToml(`
[compute.cpu]
module = "./math.ts"
static_threads = 1
dynamic_threads = 2
max_threads = 6
scaler = { interval_ms = 50, window = 4, low_watermark = 3, standalone_idle_ms = 2000, max_spawn_per_tick = 1 }

[async.io]
module = "./io.ts"
max_threads = 3

[async.io.scaler]
enabled = false
`);
    const { pools } = resolveConfig(toml, fixtures);
    expect(pools[0]!.scaling).toEqual({
      staticThreads: 1, dynamicThreads: 2, intervalMs: 50, window: 4, lowWatermark: 3, standaloneIdleMs: 2000, maxSpawnPerTick: 1,
    });
    expect([pools[1]!.threads, pools[1]!.scaling]).toEqual([3, undefined]);
  });

  test("an async pool's worker_threads is the fixed form; scaling keys beside it are errors", () => {
    const p = resolved(io({ worker_threads: 3 }));
    expect([p.threads, p.scaling]).toEqual([3, undefined]);
    expect(errorAt(io({ worker_threads: 2, max_threads: 4 })).path).toBe("async.io.max_threads");
    expect(errorAt(io({ worker_threads: 2, scaler: { window: 4 } })).path).toBe("async.io.scaler");
  });

  test("given static or dynamic counts raise the default max_threads to fit them", () => {
    const p = resolved(cpu({ dynamic_threads: 5, core_allocation: pin(2) }));
    expect([p.threads, p.scaling!.staticThreads, p.scaling!.dynamicThreads]).toEqual([6, 1, 5]);
    const q = resolved(cpu({ static_threads: 3, core_allocation: pin(2) }));
    expect([q.threads, q.scaling!.staticThreads, q.scaling!.dynamicThreads]).toEqual([3, 3, 0]);
  });

  test("more threads that always run than cores: the warning names the key the user set", () => {
    const warn = (config: unknown) => checkConfig(config as ThreadManagerConfig, fixtures).warnings.join("\n");
    expect(warn(io({ max_threads: 3, core_allocation: pin(2) }))).toBe(""); // standalone threads are for blocking work
    expect(warn(io({ static_threads: 1, dynamic_threads: 2, core_allocation: pin(2) }))).toContain("async.io.dynamic_threads: 3 threads on 2 cores");
    expect(warn(io({ worker_threads: 3, core_allocation: pin(2) }))).toContain("async.io.worker_threads: 3 threads on 2 cores");
    expect(warn(cpu({ static_threads: 3, scaler: { enabled: false }, core_allocation: pin(2) }))).toContain("compute.cpu.static_threads: 3 threads on 2 cores");
  });
});

describe("bad input names the key", () => {
  test.each([
    ["static_threads > max_threads", cpu({ static_threads: 3, max_threads: 2 }), "compute.cpu.static_threads", "must not exceed max_threads"],
    ["dynamic_threads that does not fit", cpu({ static_threads: 1, dynamic_threads: 2, max_threads: 2 }), "compute.cpu.dynamic_threads", "does not fit"],
    ["dynamic_threads on an async pool", io({ static_threads: 2, dynamic_threads: 3, max_threads: 4 }), "async.io.dynamic_threads", "does not fit"],
    ["window < 1", cpu({ scaler: { window: 0 } }), "compute.cpu.scaler.window", "must be in 1..1000"],
    ["interval_ms < 10", cpu({ scaler: { interval_ms: 5 } }), "compute.cpu.scaler.interval_ms", "must be in 10..60000"],
    ["non-integer low_watermark", cpu({ scaler: { low_watermark: 1.5 } }), "compute.cpu.scaler.low_watermark", "must be an integer"],
    ["non-integer dynamic_threads", cpu({ dynamic_threads: "1" }), "compute.cpu.dynamic_threads", "must be an integer"],
    ["standalone_idle_ms 0", io({ scaler: { standalone_idle_ms: 0 } }), "async.io.scaler.standalone_idle_ms", "must be in 1..86400000"],
    ["max_spawn_per_tick 0", cpu({ scaler: { max_spawn_per_tick: 0 } }), "compute.cpu.scaler.max_spawn_per_tick", "must be in 1..64"],
    ["enabled not a boolean", cpu({ scaler: { enabled: "no" } }), "compute.cpu.scaler.enabled", "must be true or false"],
    ["unknown scaler key", cpu({ scaler: { intervl_ms: 90 } }), "compute.cpu.scaler.intervl_ms", 'did you mean "interval_ms"'],
    ["scaler not a table", cpu({ scaler: 90 }), "compute.cpu.scaler", "must be a table"],
  ])("%s", (_, config, path, message) => {
    const e = errorAt(config);
    expect(e.path).toBe(path);
    expect(e.message).toContain(message);
  });
});
