/**
 * Checks a whole configuration before any thread starts and resolves it: module paths, thread
 * counts, core placements against the process's allowed CPU set. Every problem becomes a
 * ConfigError whose `.path` names the key (`compute.cpu.core_allocation.DedicatedCoreSet.max`);
 * all of them are collected, the first is thrown with the full list in `.errors`.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ConfigError } from "../errors.ts";
import { allowedCores, formatCpuList } from "../platform/cpus.ts";
import { cpuQuota } from "../platform/cgroup.ts";
import type { PlacementPlan, ResolvedConfig, ResolvedPool, ScalerSettings, SchedulingPolicy, ThreadManagerConfig } from "./types.ts";
import { didYouMean } from "../common/did-you-mean.ts";
import { dedicateCores, placementWarnings } from "./core-rules.ts";
import { POOL_DEFAULTS } from "./defaults.ts";

export const DEFAULT_MAX_QUEUE = 65536;
const MAX_THREADS = 4096;
const POLICIES: readonly SchedulingPolicy[] = ["OTHER", "BATCH", "IDLE", "FIFO", "RR"];
const PLACEMENT_KEYS = ["core_allocation", "policy", "nice", "priority"];
/**
 * Compute pools default to SCHED_BATCH: CPU-bound threads that do not preempt a waking thread, so a
 * saturated pool on shared cores leaves the main thread's event loop responsive (bench/README.md,
 * "Event-loop lag": timer p99 16-40 ms with OTHER, 4-6 ms with BATCH, same throughput).
 */
const DEFAULT_POLICY = POOL_DEFAULTS.policy;
const PAYLOAD_KEYS = ["max_payload_bytes", "arena_bytes", "arena_max_bytes", "abort_grace_ms", "task_timeout_ms"];
const MIB = 1 << 20;
const SCALING_KEYS = ["static_threads", "dynamic_threads", "max_threads", "scaler"];
const KEYS = {
  root: ["default_core_allocation", "exclusive_dedicated_cores", "runtime", "compute", "async", "native", "mapping"],
  compute: ["module", "max_queue", "max_queue_per_thread", ...SCALING_KEYS, ...PAYLOAD_KEYS, ...PLACEMENT_KEYS],
  async: ["module", "serve", "port", "share_port", "worker_threads", "concurrency", "max_queue", "max_queue_per_thread", ...SCALING_KEYS, ...PAYLOAD_KEYS, ...PLACEMENT_KEYS],
  native: ["max_threads", ...PLACEMENT_KEYS],
  runtime: PLACEMENT_KEYS,
};

type Table = Record<string, unknown>;

class Checker {
  readonly errors: ConfigError[] = [];

  constructor(readonly baseDir: string, readonly allowed: number[]) {}

  fail(path: string, message: string): undefined {
    this.errors.push(new ConfigError(path, message));
    return undefined;
  }

  table(v: unknown, path: string): Table | undefined {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof URL)) return v as Table;
    return this.fail(path, `must be a table, got ${describeTomlValue(v)}`);
  }

  keys(t: Table, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(t)) {
      if (allowed.includes(k)) continue;
      const onCompute = path.startsWith("compute.");
      const serveOnCompute = (k === "serve" || k === "port") && onCompute;
      this.fail(path ? `${path}.${k}` : k, serveOnCompute
        ? `unknown key: serving pools are async pools ([async.${path.slice("compute.".length)}] with serve = "./server.ts"); a compute pool runs synchronous handlers only`
        : k === "worker_threads" && onCompute
          ? "unknown key: a compute pool is sized by max_threads (and static_threads); for a fixed size set max_threads and scaler.enabled = false"
          : `unknown key${didYouMean(k, allowed)} (allowed here: ${allowed.join(", ")})`);
    }
  }

  int(v: unknown, path: string, min: number, max: number, fallback: number): number {
    if (v === undefined) return fallback;
    if (typeof v === "bigint") v = Number(v);
    if (typeof v !== "number" || !Number.isInteger(v)) return this.fail(path, `must be an integer, got ${describeTomlValue(v)}`) ?? fallback;
    if (v < min || v > max) return this.fail(path, `must be in ${min}..${max}, got ${v}`) ?? fallback;
    return v;
  }

  module(v: unknown, path: string): string {
    let file: string;
    if (v instanceof URL) file = fileURLToPath(v);
    else if (typeof v === "string" && v.startsWith("file:")) file = fileURLToPath(v);
    else if (typeof v === "string" && v.length > 0) file = isAbsolute(v) ? v : resolve(this.baseDir, v);
    else return this.fail(path, v === undefined ? "is required: the handler module's path" : `must be a module path or file: URL, got ${describeTomlValue(v)}`) ?? "";
    if (!existsSync(file) && !embedded(file)) {
      const hint = file.startsWith("/$bunfs/") ? " (inside a compiled executable: add it as an entry point of bun build --compile)" : nearbyFile(file);
      return this.fail(path, `module not found: ${file}${hint}`) ?? "";
    }
    if (existsSync(file) && statSync(file).isDirectory()) return this.fail(path, `is a directory, not a module file: ${file}`) ?? "";
    return pathToFileURL(file).href;
  }

  /** A core allocation value at `path` -> the cores it spans. */
  cores(v: unknown, path: string): Pick<PlacementPlan, "allocation" | "cores"> {
    const fallback = { allocation: "OsDefault" as const, cores: this.allowed };
    if (v === undefined || v === "OsDefault") return fallback;
    const t = typeof v === "string" ? undefined : this.table(v, path);
    if (!t) return typeof v === "string" ? (this.fail(path, `must be "OsDefault", PinnedCores or DedicatedCoreSet, got "${v}"`) ?? fallback) : fallback;
    const kinds = Object.keys(t);
    const kind = kinds[0];
    if (kinds.length !== 1 || (kind !== "PinnedCores" && kind !== "DedicatedCoreSet")) {
      return this.fail(path, `must hold exactly one of PinnedCores, DedicatedCoreSet (got ${kinds.join(", ") || "nothing"})`) ?? fallback;
    }
    const at = `${path}.${kind}`;
    const range = this.table(t[kind], at);
    if (!range) return fallback;
    this.keys(range, at, ["min", "max"]);
    const min = this.int(range.min, `${at}.min`, 0, 1 << 16, -1);
    const max = this.int(range.max, `${at}.max`, 0, 1 << 16, -1);
    if (range.min === undefined) this.fail(`${at}.min`, "is required");
    if (range.max === undefined) this.fail(`${at}.max`, "is required");
    if (min < 0 || max < 0) return fallback;
    if (max <= min) return this.fail(`${at}.max`, `must be greater than min (${min}): ranges are half-open, min <= core < max`) ?? fallback;
    const cores = Array.from({ length: max - min }, (_, i) => min + i);
    const outside = cores.filter((c) => !this.allowed.includes(c));
    if (outside.length > 0) {
      const where = outside.includes(min) ? `${at}.min` : `${at}.max`;
      return this.fail(where, `cores ${formatCpuList(outside)} are outside this process's allowed CPU set (${formatCpuList(this.allowed)}; from sched_getaffinity, so taskset and cgroup limits apply)`) ?? fallback;
    }
    return { allocation: kind, cores };
  }

  /** `defaultPolicy`: compute pools BATCH (see DEFAULT_POLICY), everything else OTHER. */
  placement(t: Table, path: string, defaultPolicy: SchedulingPolicy = "OTHER"): PlacementPlan {
    const { allocation, cores } = this.cores(t.core_allocation, `${path}.core_allocation`);
    let policy: SchedulingPolicy = defaultPolicy;
    if (t.policy !== undefined) {
      if (POLICIES.includes(t.policy as SchedulingPolicy)) policy = t.policy as SchedulingPolicy;
      else this.fail(`${path}.policy`, `must be one of ${POLICIES.join(", ")}, got ${describeTomlValue(t.policy)}`);
    }
    const realtime = policy === "FIFO" || policy === "RR";
    let nice: number | null = null;
    if (t.nice !== undefined) {
      if (policy !== "OTHER" && policy !== "BATCH") this.fail(`${path}.nice`, `applies to OTHER and BATCH only, not ${policy}${realtime ? " (use priority)" : ""}`);
      else nice = this.int(t.nice, `${path}.nice`, -20, 19, 0);
    }
    let priority = realtime ? 1 : 0;
    if (t.priority !== undefined) {
      if (!realtime) this.fail(`${path}.priority`, `applies to FIFO and RR only, not ${policy}${policy === "IDLE" ? "" : " (use nice)"}`);
      else priority = this.int(t.priority, `${path}.priority`, 1, 99, 1);
    }
    return { path, allocation, cores, policy, nice, priority };
  }
}

/** " (did you mean ./handlers.ts?)" when a file with a close name sits in the same directory. */
function nearbyFile(file: string): string {
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return "";
  }
  const hint = didYouMean(basename(file), names);
  return hint && hint.replace(/^ \(did you mean "(.*)"\?\)$/, (_, n: string) => ` (did you mean ${join(dirname(file), n)}?)`);
}

/** A config value as the TOML user wrote it ("a table", not "an object"). */
function describeTomlValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "an array";
  return v === null ? "null" : typeof v === "object" ? "a table" : `${typeof v} ${String(v)}`;
}

/** Checks everything; throws the first ConfigError (with `.errors`: all of them) or returns the resolved config. */
export function resolveConfig(config: ThreadManagerConfig, baseDir: string): ResolvedConfig {
  const { resolved, errors } = checkConfig(config, baseDir);
  if (errors.length > 0) throw ConfigError.of(errors);
  return resolved;
}

/** Like resolveConfig, but returns every error instead of throwing (the CLI's `check`). */
/** A module inside a `bun build --compile` executable: its .ts entry is stored as .js (import() maps it back). */
function embedded(file: string): boolean {
  return file.startsWith("/$bunfs/") && existsSync(file.replace(/\.(ts|tsx|mts)$/, ".js"));
}

export function checkConfig(config: ThreadManagerConfig, baseDir: string): { resolved: ResolvedConfig; errors: ConfigError[]; warnings: string[] } {
  const c = new Checker(baseDir, allowedCores());
  const quota = cpuQuota(); // a container's CPU limit: default sizes follow it, not the node's cores
  const root = c.table(config, "(root)") ?? {};
  c.keys(root, "", KEYS.root);
  const pools: ResolvedPool[] = [];
  const names = new Map<string, string>();
  for (const kind of ["compute", "async", "native"] as const) {
    if (root[kind] === undefined) continue;
    const table = c.table(root[kind], kind);
    for (const [name, raw] of Object.entries(table ?? {})) {
      const path = `${kind}.${name}`;
      if (names.has(name)) c.fail(path, `pool name "${name}" is taken by ${names.get(name)}: pool names are unique across kinds`);
      names.set(name, path);
      const p = c.table(raw, path);
      if (!p) continue;
      c.keys(p, path, KEYS[kind]);
      const placement = c.placement(p, path, DEFAULT_POLICY[kind]);
      const maxQueue = c.int(p.max_queue, `${path}.max_queue`, 1, 1 << 20, DEFAULT_MAX_QUEUE);
      const payload = kind === "native" ? undefined : payloadLimits(c, p, path);
      if (kind === "compute" || kind === "async") {
        const concurrency = kind === "async" ? c.int(p.concurrency, `${path}.concurrency`, 1, 1 << 16, 256) : 1;
        const serve = kind === "async" ? serverSettings(c, p, path) : undefined;
        const usable = Math.min(placement.cores.length, quota?.cores ?? Infinity);
        const { threads, scaling, threadsKey } = serve ? serverThreads(c, p, path, usable) : threadKinds(c, p, path, usable);
        const module = serve && p.module === undefined ? "" : c.module(p.module, `${path}.module`);
        const maxQueuePerThread = c.int(p.max_queue_per_thread, `${path}.max_queue_per_thread`, 16, 1 << 16, POOL_DEFAULTS.laneSlots);
        pools.push({ name, kind, module, threads, maxQueue, maxQueuePerThread, concurrency, placement, payload, scaling, threadsKey, serve });
      } else {
        const threads = c.int(p.max_threads, `${path}.max_threads`, 1, MAX_THREADS, 1);
        pools.push({ name, kind, module: "", threads, maxQueue, concurrency: 1, placement });
      }
    }
  }
  const ports = new Map<number, string>();
  for (const p of pools) {
    const port = p.serve?.port;
    if (port === undefined || port === 0) continue;
    const path = `async.${p.name}.port`;
    if (ports.has(port)) c.fail(path, `${port} is also ${ports.get(port)}: two pools' servers on one port would split its connections between them`);
    else ports.set(port, path);
  }
  let main: PlacementPlan | undefined;
  if (root.default_core_allocation !== undefined) {
    const { allocation, cores } = c.cores(root.default_core_allocation, "default_core_allocation");
    main = { path: "default_core_allocation", allocation, cores, policy: "OTHER", nice: null, priority: 0 };
  }
  let runtime: PlacementPlan | undefined;
  if (root.runtime !== undefined) {
    const t = c.table(root.runtime, "runtime");
    if (t) {
      c.keys(t, "runtime", KEYS.runtime);
      runtime = c.placement(t, "runtime");
    }
  }
  const exclusive = root.exclusive_dedicated_cores ?? true;
  if (typeof exclusive !== "boolean") c.fail("exclusive_dedicated_cores", `must be true or false, got ${describeTomlValue(exclusive)}`);
  // Rules across pools only once every placement is valid: a bad one stands in as OsDefault and would
  // make up follow-on errors about pools that never asked for OsDefault.
  if (!c.errors.some((e) => /core_allocation/.test(e.path))) ({ main, runtime } = dedicateCores(c, pools, main, runtime, exclusive !== false));
  const mapping: Record<string, string> = {};
  if (root.mapping !== undefined) {
    for (const [alias, target] of Object.entries(c.table(root.mapping, "mapping") ?? {})) {
      if (typeof target !== "string") c.fail(`mapping.${alias}`, `must name a pool, got ${describeTomlValue(target)}`);
      else if (!names.has(target)) c.fail(`mapping.${alias}`, `names pool "${target}", which is not configured${didYouMean(target, [...names.keys()])} (pools: ${[...names.keys()].join(", ") || "none"})`);
      else mapping[alias] = target;
    }
  }
  const resolved: ResolvedConfig = { pools, main, runtime, mapping, allowed: c.allowed, cpuQuota: quota };
  return { resolved, errors: c.errors, warnings: c.errors.length ? [] : placementWarnings(resolved) };
}

/**
 * max_payload_bytes (64 KiB..1 GiB), arena_bytes (64 KiB..1 GiB), arena_max_bytes (arena_bytes..64
 * segments), abort_grace_ms (0..1 h, default 1000), task_timeout_ms (1 ms..24 h, default none).
 */
function payloadLimits(c: Checker, p: Table, path: string): NonNullable<ResolvedPool["payload"]> {
  const d = POOL_DEFAULTS;
  const maxPayloadBytes = c.int(p.max_payload_bytes, `${path}.max_payload_bytes`, 64 * 1024, 1024 * MIB, d.maxPayloadBytes);
  const arenaBytes = c.int(p.arena_bytes, `${path}.arena_bytes`, 64 * 1024, 1024 * MIB, d.arenaBytes);
  const arenaMaxBytes = c.int(p.arena_max_bytes, `${path}.arena_max_bytes`, arenaBytes, 64 * arenaBytes, d.arenaGrowth * arenaBytes);
  const abortGraceMs = c.int(p.abort_grace_ms, `${path}.abort_grace_ms`, 0, 3_600_000, d.abortGraceMs);
  const timeout = c.int(p.task_timeout_ms, `${path}.task_timeout_ms`, 1, 86_400_000, 0);
  return { maxPayloadBytes, arenaBytes, arenaMaxBytes, abortGraceMs, taskTimeoutMs: timeout > 0 ? timeout : undefined };
}


/**
 * static_threads, dynamic_threads, max_threads and the [scaler] table of a compute or async pool
 * (README, "Adaptive scaling"). Defaults: max_threads = the pool's cores (or static + dynamic as
 * given, if more), static 1, dynamic = cores - static (at least 1) within max_threads.
 * `scaler.enabled = false` gives a fixed pool of max_threads threads, all static (static and dynamic
 * counts are then only checked); an async pool's `worker_threads` is the same fixed form.
 */
function threadKinds(c: Checker, p: Table, path: string, cores: number): Pick<ResolvedPool, "threads" | "scaling" | "threadsKey"> {
  if (p.worker_threads !== undefined) {
    for (const k of ["static_threads", "dynamic_threads", "max_threads", "scaler"]) {
      if (p[k] !== undefined) c.fail(`${path}.${k}`, "cannot be combined with worker_threads (the fixed-size form): drop worker_threads to scale, or this key to keep it fixed");
    }
    return { threads: c.int(p.worker_threads, `${path}.worker_threads`, 1, MAX_THREADS, 1), threadsKey: "worker_threads" };
  }
  const scaler = scalerSettings(c, p.scaler, `${path}.scaler`);
  const stat = c.int(p.static_threads, `${path}.static_threads`, 0, MAX_THREADS, -1);
  const dyn = c.int(p.dynamic_threads, `${path}.dynamic_threads`, 0, MAX_THREADS, -1);
  // Default: the pool's cores, or what the given static and dynamic counts need if more.
  const max = c.int(p.max_threads, `${path}.max_threads`, 1, MAX_THREADS, Math.max(1, cores, (stat >= 0 ? stat : 1) + Math.max(dyn, 0)));
  const staticThreads = stat >= 0 ? stat : Math.min(1, max);
  if (staticThreads > max) c.fail(`${path}.static_threads`, `(${staticThreads}) must not exceed max_threads (${max})`);
  const dynamicThreads = dyn >= 0 ? dyn : Math.max(0, Math.min(max - staticThreads, Math.max(1, cores - staticThreads)));
  if (dyn >= 0 && staticThreads + dyn > max) {
    c.fail(`${path}.dynamic_threads`, `(${dyn}) does not fit: static_threads (${staticThreads}) + dynamic_threads must not exceed max_threads (${max})`);
  }
  // The key to name when too many threads always run: the one the user set that made it so.
  const threadsKey = !scaler && p.max_threads !== undefined ? "max_threads" : dyn >= 0 ? "dynamic_threads" : stat > cores ? "static_threads" : "max_threads";
  if (!scaler) return { threads: max, threadsKey };
  return { threads: max, threadsKey, scaling: { staticThreads, dynamicThreads, ...scaler } };
}

/**
 * An async pool's `serve` (a module whose default export is Bun.serve options, started on every
 * thread with reusePort) and `port` (overrides the module's; 0: a free port picked at start).
 */
function serverSettings(c: Checker, p: Table, path: string): ResolvedPool["serve"] {
  if (p.serve === undefined) {
    if (p.port !== undefined) c.fail(`${path}.port`, "is the port of the pool's servers: set serve = \"./server.ts\" too");
    return undefined;
  }
  const module = c.module(p.serve, `${path}.serve`);
  const port = p.port === undefined ? undefined : c.int(p.port, `${path}.port`, 0, 65535, 0);
  if (p.share_port !== undefined && typeof p.share_port !== "boolean") c.fail(`${path}.share_port`, `must be true or false, got ${describeTomlValue(p.share_port)}`);
  return { module, port, sharePort: p.share_port === true };
}

/** A pool that serves HTTP runs a server on each of a fixed number of threads: worker_threads (default: its cores). */
function serverThreads(c: Checker, p: Table, path: string, cores: number): Pick<ResolvedPool, "threads" | "threadsKey" | "scaling"> {
  for (const k of ["static_threads", "dynamic_threads", "max_threads", "scaler"]) {
    if (p[k] !== undefined) c.fail(`${path}.${k}`, "a pool with serve runs one server per thread and does not scale: set worker_threads instead");
  }
  return { threads: c.int(p.worker_threads, `${path}.worker_threads`, 1, MAX_THREADS, Math.max(1, cores)), threadsKey: "worker_threads" };
}

const SCALER_KEYS = ["interval_ms", "window", "low_watermark", "standalone_idle_ms", "max_spawn_per_tick", "enabled"];

/** The [scaler] table; undefined when `enabled = false`. */
function scalerSettings(c: Checker, v: unknown, path: string): ScalerSettings | undefined {
  const t = v === undefined ? {} : c.table(v, path);
  if (!t) return undefined;
  c.keys(t, path, SCALER_KEYS);
  if (t.enabled !== undefined && typeof t.enabled !== "boolean") c.fail(`${path}.enabled`, `must be true or false, got ${describeTomlValue(t.enabled)}`);
  const settings = {
    intervalMs: c.int(t.interval_ms, `${path}.interval_ms`, 10, 60_000, 90),
    window: c.int(t.window, `${path}.window`, 1, 1000, 10),
    lowWatermark: c.int(t.low_watermark, `${path}.low_watermark`, 1, MAX_THREADS, 2),
    standaloneIdleMs: c.int(t.standalone_idle_ms, `${path}.standalone_idle_ms`, 1, 86_400_000, 10_000),
    maxSpawnPerTick: c.int(t.max_spawn_per_tick, `${path}.max_spawn_per_tick`, 1, 64, 2),
  };
  return t.enabled === false ? undefined : settings;
}
