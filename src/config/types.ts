/**
 * The configuration: a TOML file or the same keys as an object. Defaults are in README.md
 * ("Configuration"). Core ranges are half-open, `min <= core < max`, as in agave-thread-manager.
 */

export type CoreAllocation =
  | "OsDefault"
  | { PinnedCores: { min: number; max: number } }
  | { DedicatedCoreSet: { min: number; max: number } };

export type SchedulingPolicy = "OTHER" | "BATCH" | "IDLE" | "FIFO" | "RR";

import type { CpuQuota } from "../platform/cgroup.ts";

/** Where a pool's threads run and how the kernel schedules them. */
export interface PlacementConfig {
  /** Default "OsDefault": the process's allowed CPU set. */
  core_allocation?: CoreAllocation;
  /** Default "OTHER". */
  policy?: SchedulingPolicy;
  /** -20..19, with OTHER or BATCH. Unset: left as inherited. */
  nice?: number;
  /** 1..99, with FIFO or RR. Default 1 for those. */
  priority?: number;
}

/** What compute and async pools share: backpressure, payload limits, stuck tasks. */
export interface TaskPoolLimits {
  /** Tasks queued, waiting for arena room or running before run() rejects with PoolBusyError. Default 65536. */
  max_queue?: number;
  /**
   * Tasks one other thread (a serving thread, an async handler's thread, a native thread) may have
   * queued or running in this pool at once; past it its run() rejects with PoolBusyError. Rounded
   * down to a power of two. Default 1024; 16..65536.
   */
  max_queue_per_thread?: number;
  /** Largest argument or result in bytes; above it run() rejects with PayloadTooLargeError. Default 64 MiB. */
  max_payload_bytes?: number;
  /** Bytes of one payload arena segment. Default 8 MiB (blocks of 64 B to 1 MiB; larger payloads travel outside it). */
  arena_bytes?: number;
  /** The arena grows by segments under pressure up to this many bytes. Default 16 x arena_bytes. */
  arena_max_bytes?: number;
  /** An aborted task still running after this many ms gets its thread replaced. Default 1000. */
  abort_grace_ms?: number;
  /** A task running longer than this many ms is aborted (TimeoutError). Default: no limit. */
  task_timeout_ms?: number;
}

/** The pool manager's settings for one pool (README, "Adaptive scaling"). */
export interface ScalerConfig {
  /** Ms between the pool manager's looks at the pool (10..60000). Default 90. */
  interval_ms?: number;
  /** Rates in the trend window (EMA alpha = 2 / (window + 1)). Default 10. */
  window?: number;
  /** Threads added per tick when hogs stall the pool, and the rising case's base. Default 2. */
  low_watermark?: number;
  /** A standalone thread exits after this many ms without work. Default 10000. */
  standalone_idle_ms?: number;
  /** Most standalone threads started per tick. Default 2. */
  max_spawn_per_tick?: number;
  /** false: a fixed pool of max_threads threads, all static. Default true. */
  enabled?: boolean;
}

/** Thread kinds of a compute or async pool. */
export interface ScaledPoolConfig {
  /** Threads that always run (park when idle, woken by new work). Default 1. */
  static_threads?: number;
  /** Threads started behind the pool manager's gate; only it lets them work. Default: cores - static, at least 1. */
  dynamic_threads?: number;
  /** static + dynamic + standalone never exceed this. Default: the cores the pool may use. */
  max_threads?: number;
  scaler?: ScalerConfig;
}

export interface ComputePoolConfig extends PlacementConfig, TaskPoolLimits, ScaledPoolConfig {
  /** Handler module: relative to the config file (or baseDir), absolute, or a file: URL. */
  module: string | URL;
}

export interface AsyncPoolConfig extends PlacementConfig, TaskPoolLimits, ScaledPoolConfig {
  /** Handler module (optional when `serve` is given: a pool that only serves HTTP). */
  module?: string | URL;
  /**
   * A module whose default export is Bun.serve options (or a function of { pool, threadIndex }
   * returning them): each thread of the pool runs one server on the shared port (reusePort).
   * Such a pool has a fixed size, worker_threads (default: its cores).
   */
  serve?: string | URL;
  /** The servers' port, overriding the serve module's; 0 picks a free port at start. */
  port?: number;
  /**
   * true: start even when another process already listens on `port` (with SO_REUSEPORT the kernel
   * then splits connections between both: a rolling restart, where the old instance is stopped
   * next). Default false: that is a ServeError naming the port and the other process.
   */
  share_port?: boolean;
  /** A fixed pool of this many threads (no scaling; not with static/dynamic/max_threads). */
  worker_threads?: number;
  /** Tasks in flight per thread. Default 256. */
  concurrency?: number;
}

export interface NativePoolConfig extends PlacementConfig {
  /** Threads that may run at once. Default 1. */
  max_threads?: number;
}

/** Bun's own helper threads (JIT, GC, file I/O pool, HTTP client). */
export type RuntimeConfig = PlacementConfig;

export interface ThreadManagerConfig {
  /** Default true: every DedicatedCoreSet is taken out of OsDefault for the other pools, main and Bun's helpers. */
  exclusive_dedicated_cores?: boolean;
  /** Where the main thread runs. Unset: left alone. */
  default_core_allocation?: CoreAllocation;
  /** Unset: Bun's helper threads are left alone. */
  runtime?: RuntimeConfig;
  compute?: Record<string, ComputePoolConfig>;
  async?: Record<string, AsyncPoolConfig>;
  native?: Record<string, NativePoolConfig>;
  /** Aliases: `http = "io"`; `default` names where unmapped names go. */
  mapping?: Record<string, string>;
}

export type PoolRole = "compute" | "async" | "native";

/** A placement resolved against the allowed CPU set; structured-clone safe (sent to workers). */
export interface PlacementPlan {
  /** The config path it came from, for errors: "compute.cpu". */
  path: string;
  allocation: "OsDefault" | "PinnedCores" | "DedicatedCoreSet";
  /** The cores the allocation spans, ascending. */
  cores: number[];
  policy: SchedulingPolicy;
  nice: number | null;
  priority: number;
}

export interface ResolvedPool {
  name: string;
  kind: PoolRole;
  /** file: URL; native pools have none (the module comes with each spawn). */
  module: string;
  threads: number;
  maxQueue: number;
  /** Compute and async pools: another thread's tasks in flight at most (its lane's slots). */
  maxQueuePerThread?: number;
  concurrency: number;
  placement: PlacementPlan;
  /** Compute and async pools: max_payload_bytes, arena_bytes, arena_max_bytes. */
  payload?: { maxPayloadBytes: number; arenaBytes: number; arenaMaxBytes: number; abortGraceMs: number; taskTimeoutMs?: number };
  /** Compute and async pools that scale: thread kinds and the scaler; absent for a fixed pool of `threads`. */
  scaling?: PoolScaling;
  /** The key to name when the threads that always run outnumber the cores (the one the user set, where one was). */
  threadsKey?: "max_threads" | "worker_threads" | "static_threads" | "dynamic_threads";
  /** Async pools with `serve`: the server module (file: URL) and the port from the config, if any. */
  serve?: { module: string; port?: number; sharePort?: boolean };
}

/** The scaler table, resolved. */
export interface ScalerSettings {
  intervalMs: number;
  window: number;
  lowWatermark: number;
  standaloneIdleMs: number;
  maxSpawnPerTick: number;
}

/** A scaling pool: seats [0, static) static, [static, static + dynamic) dynamic, the rest standalone. */
export interface PoolScaling extends ScalerSettings {
  staticThreads: number;
  dynamicThreads: number;
}

export interface ResolvedConfig {
  pools: ResolvedPool[];
  /** The main thread's placement, when default_core_allocation is set. */
  main?: PlacementPlan;
  /** Bun helper threads' placement, when [runtime] is set. */
  runtime?: PlacementPlan;
  mapping: Record<string, string>;
  /** The process's allowed CPU set when the config was checked. */
  allowed: number[];
  /** The cgroup CPU quota in force then (a container's limit), if any: default pool sizes follow it. */
  cpuQuota?: CpuQuota;
}

/** Cores thread `i` of a pool runs on. */
export function coresForThread(p: PlacementPlan, i: number): number[] {
  return p.allocation === "PinnedCores" ? [p.cores[i % p.cores.length]!] : p.cores;
}
