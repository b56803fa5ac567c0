/**
 * The configuration: a TOML file or the same keys as an object. Defaults are in README.md
 * ("Configuration"). Core ranges are half-open, `min <= core < max`, as in agave-thread-manager.
 */

export type CoreAllocation =
  | "OsDefault"
  | { PinnedCores: { min: number; max: number } }
  | { DedicatedCoreSet: { min: number; max: number } };

export type SchedulingPolicy = "OTHER" | "BATCH" | "IDLE" | "FIFO" | "RR";

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

export interface ComputePoolConfig extends PlacementConfig, TaskPoolLimits {
  /** Handler module: relative to the config file (or baseDir), absolute, or a file: URL. */
  module: string | URL;
  /** Threads that always run. Default 0. */
  static_threads?: number;
  /** Threads started (adaptive scaling comes later). Default: the cores the pool may use. */
  max_threads?: number;
}

export interface AsyncPoolConfig extends PlacementConfig, TaskPoolLimits {
  module: string | URL;
  /** Threads. Default 1. */
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
  concurrency: number;
  placement: PlacementPlan;
  /** Compute and async pools: max_payload_bytes, arena_bytes, arena_max_bytes. */
  payload?: { maxPayloadBytes: number; arenaBytes: number; arenaMaxBytes: number; abortGraceMs: number; taskTimeoutMs?: number };
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
}

/** Cores thread `i` of a pool runs on. */
export function coresForThread(p: PlacementPlan, i: number): number[] {
  return p.allocation === "PinnedCores" ? [p.cores[i % p.cores.length]!] : p.cores;
}
