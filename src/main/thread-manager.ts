/**
 * The entry point: checks a config (object, TOML text or file), starts its pools with their
 * placements, places the main thread and Bun's helper threads, and hands pools out by name
 * (through `[mapping]`, then `mapping.default`).
 *
 * @example
 * const tm = await ThreadManager.fromFile("threads.toml");
 * const sum = await tm.compute("cpu").run("add", [1, 2]);
 * await tm.close();
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import type { ResolvedConfig, ThreadManagerConfig } from "../config/types.ts";
import type { CpuQuota } from "../platform/cgroup.ts";
import { resolveConfig } from "../config/validate.ts";
import { ConfigError } from "../errors.ts";
import { lookupPool } from "../common/pool-lookup.ts";
import { placementSupported } from "../platform/placement.ts";
import { AsyncPool } from "./async-pool.ts";
import { ComputePool } from "./compute-pool.ts";
import { NativePool } from "./native-pool.ts";
import { PoolManagerThread } from "./pool-manager.ts";
import { PoolDirectoryHub } from "./pool-directory-hub.ts";
import { prometheusText } from "./prometheus.ts";
import { closeOptions, keepingAlive } from "./pool-close.ts";
import { noteStarted } from "./global-manager.ts";
import { RuntimeThreads } from "./runtime-threads.ts";
import type { PoolMetrics } from "./pool-metrics.ts";
import type { CloseOptions } from "./task-pool.ts";
import type { CloseOutcome } from "./pool-close.ts";
import { describeThreads, type ThreadInfo } from "./thread-list.ts";

export interface StartOptions {
  /** Where relative module paths resolve from. Default: the current directory (the file's directory for fromFile). */
  baseDir?: string;
}

type Kind = "compute" | "async" | "native";
type PoolOf<K extends Kind> = K extends "compute" ? ComputePool : K extends "async" ? AsyncPool : NativePool;

let warnedNoPlacement = false;

export class ThreadManager {
  private readonly warned = new Set<string>();

  private constructor(
    private readonly config: ResolvedConfig,
    private readonly pools: Map<string, ComputePool | AsyncPool | NativePool>,
    private readonly runtime: RuntimeThreads,
    /** The pool-manager thread, when some pool scales. */
    private readonly manager: PoolManagerThread | undefined,
  ) {}

  /** Reads and starts a TOML config file; module paths resolve against the file's directory. */
  static async fromFile(path: string): Promise<ThreadManager> {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new ConfigError("(file)", `cannot read ${path}: ${(e as Error).message}`);
    }
    return ThreadManager.fromToml(text, { baseDir: dirname(resolve(path)) });
  }

  /** Parses TOML text (smol-toml) and starts it. */
  static async fromToml(text: string, options: StartOptions = {}): Promise<ThreadManager> {
    return ThreadManager.start(parseConfigToml(text), options);
  }

  /** Checks the whole config, then starts every pool; if any fails, the others are closed and no thread is left. */
  static async start(config: ThreadManagerConfig, options: StartOptions = {}): Promise<ThreadManager> {
    const resolved = resolveConfig(config, options.baseDir ?? process.cwd());
    if (!placementSupported() && !warnedNoPlacement) {
      warnedNoPlacement = true;
      console.warn(`bun-thread-manager: thread placement is not supported on ${process.platform}; pools run unplaced`);
    }
    // Every pool's shared memory first, so each thread starts knowing every pool (ctx.pools).
    const hub = new PoolDirectoryHub(resolved.mapping, resolved.pools.filter((p) => p.kind === "native").map((p) => p.name));
    const submitters = resolved.pools.reduce((n, p) => n + p.threads, 0); // every managed thread may call every pool
    const pools = new Map<string, ComputePool | AsyncPool | NativePool>();
    let failure: unknown;
    try {
      for (const p of resolved.pools) {
        if (p.kind === "native") {
          pools.set(p.name, new NativePool(p.name, p.threads, p.placement, hub));
          continue;
        }
        const o = { name: p.name, module: p.module, threads: p.threads, maxQueue: p.maxQueue, concurrency: p.concurrency, placement: p.placement, scaling: p.scaling, serve: p.serve, submitters, maxQueuePerThread: p.maxQueuePerThread, ...p.payload };
        const pool = p.kind === "compute" ? ComputePool.create(o) : AsyncPool.create(o);
        hub.add(pool);
        pools.set(p.name, pool);
      }
      // Compute pools first: an async pool's modules may import "pool:cpu" and wait for its handler names.
      for (const kind of ["compute", "async"] as const) {
        const wave = [...pools.values()].filter((p): p is ComputePool | AsyncPool => p.kind === kind);
        const started = await Promise.allSettled(wave.map((p) => p.startThreads()));
        const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
        started.forEach((s, i) => s.status === "rejected" && pools.delete(wave[i]!.name)); // it stopped its own threads
        if (failed) throw failed.reason;
      }
    } catch (e) {
      failure = e;
    }
    const runtime = new RuntimeThreads(resolved.main, resolved.runtime);
    let manager: PoolManagerThread | undefined;
    try {
      if (failure !== undefined) throw failure;
      runtime.start();
      manager = await PoolManagerThread.start([...pools.values()].filter((p) => !(p instanceof NativePool)), resolved.runtime ?? resolved.main);
    } catch (e) {
      runtime.stop();
      await Promise.all([...pools.values()].map((p) => (p instanceof NativePool ? p.close() : p.close({ drain: false }))));
      throw e;
    }
    const tm = new ThreadManager(resolved, pools, runtime, manager);
    noteStarted(tm, true);
    return tm;
  }

  /** The compute pool `name` (or what [mapping] maps it to); throws PoolNotFoundError. */
  compute(name: string): ComputePool {
    return this.lookup(name, "compute", true)!;
  }

  async(name: string): AsyncPool {
    return this.lookup(name, "async", true)!;
  }

  native(name: string): NativePool {
    return this.lookup(name, "native", true)!;
  }

  tryCompute(name: string): ComputePool | undefined {
    return this.lookup(name, "compute", false);
  }

  tryAsync(name: string): AsyncPool | undefined {
    return this.lookup(name, "async", false);
  }

  tryNative(name: string): NativePool | undefined {
    return this.lookup(name, "native", false);
  }

  /** The cgroup CPU quota the config was sized by (a container's limit), if any. */
  get cpuQuota(): CpuQuota | undefined {
    return this.config.cpuQuota;
  }

  /** Every managed thread as the kernel reports it now: main, Bun's helpers that were placed, pool threads. */
  threads(): ThreadInfo[] {
    return describeThreads(this.runtime, [...this.pools.values()], this.manager?.tid);
  }

  /** Counters of every compute and async pool, by name; `resetWindow` opens a new window of task-time percentiles. */
  metrics(options?: { resetWindow?: boolean }): Record<string, PoolMetrics> {
    const out: Record<string, PoolMetrics> = {};
    for (const p of this.pools.values()) if (!(p instanceof NativePool)) out[p.name] = p.metrics(options);
    return out;
  }

  /** metrics() of every compute and async pool in the Prometheus text format (see src/main/prometheus.ts). */
  prometheus(): string {
    return prometheusText(this.metrics(), this.threads(), this.config.cpuQuota);
  }

  /**
   * Closes every pool (see TaskPool.close), stops native threads, gives main and helper threads
   * their cores back. Callers before callees: native threads first, then async pools (whose
   * handlers and servers may still call compute pools while they drain), then compute pools;
   * with `drain: false` async and compute pools close together (nothing is left to drain for).
   */
  close(options?: CloseOptions): Promise<Record<string, CloseOutcome>> {
    try {
      closeOptions(options); // a bad option closes nothing
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.closing) {
      // A second close gets the first one's promise, as pool.close() does; drain: false still takes effect in each pool.
      if (options?.drain === false) for (const p of this.pools.values()) if (!(p instanceof NativePool)) void p.close(options).catch(() => {});
      return this.closing;
    }
    const closing = (this.closing = this.closeAll(options));
    closing.catch(() => (this.closing = undefined)); // a close that failed may be tried again
    return closing;
  }

  private closing: Promise<Record<string, CloseOutcome>> | undefined;

  private async closeAll(options: CloseOptions | undefined): Promise<Record<string, CloseOutcome>> {
    noteStarted(this, false);
    const all = [...this.pools.values()];
    const outcomes: Record<string, CloseOutcome> = {};
    // Native threads are unref()'d too: the whole close keeps the process alive, not only the pools'.
    await keepingAlive((async () => {
      let failure: PromiseRejectedResult | undefined;
      try {
        await Promise.all(all.filter((p) => p instanceof NativePool).map((p) => p.close()));
        // drain: false closes async and compute pools at once: a caller's calls then end with PoolClosedError instead of running on to its deadline.
        const stages = options?.drain === false ? [["async", "compute"]] : [["async"], ["compute"]];
        for (const kinds of stages) {
          const closed = await Promise.allSettled(all.filter((p): p is ComputePool | AsyncPool => kinds.includes(p.kind)).map((p) => p.close(options)));
          for (const c of closed) if (c.status === "fulfilled") outcomes[c.value.pool] = c.value;
          failure ??= closed.find((c): c is PromiseRejectedResult => c.status === "rejected");
        }
        if (failure) throw failure.reason; // after every pool was asked to close
      } finally {
        await this.manager?.stop(); // after the pools: a closing pool may still need a gate opened to drain
        this.runtime.stop();
      }
    })());
    return outcomes;
  }

  private lookup<K extends Kind>(name: string, kind: K, strict: boolean): PoolOf<K> | undefined {
    const pools = this.pools;
    return lookupPool<PoolOf<K>>({
      mapping: this.config.mapping,
      find: (n, k) => (pools.get(n)?.kind === k ? (pools.get(n) as PoolOf<K>) : undefined),
      kindOf: (n) => pools.get(n)?.kind,
      namesOf: (k) => [...pools.values()].filter((p) => p.kind === k).map((p) => p.name),
    }, name, kind, strict, this.warned);
  }
}

/** TOML text -> config object; a syntax error is a ConfigError with the line and column. */
export function parseConfigToml(text: string): ThreadManagerConfig {
  try {
    return parseToml(text) as unknown as ThreadManagerConfig;
  } catch (e) {
    if (e instanceof TomlError) throw new ConfigError(`(toml line ${e.line}, column ${e.column})`, e.message.split("\n")[0]!);
    throw e;
  }
}
