/**
 * The entry point: starts the pools a config names and hands them out by name.
 *
 * @example
 * const tm = await ThreadManager.start({ compute: { cpu: { module: "./cpu.ts", max_threads: 2 } } });
 * const sum = await tm.compute("cpu").run("add", [1, 2]);
 * await tm.close();
 */
import { resolveConfig, type ThreadManagerConfig } from "../config/config.ts";
import { PoolNotFoundError } from "../errors.ts";
import { AsyncPool } from "./async-pool.ts";
import { ComputePool } from "./compute-pool.ts";
import type { CloseOptions } from "./task-pool.ts";

export interface StartOptions {
  /** Where relative module paths resolve from. Default: the current directory. */
  baseDir?: string;
}

export class ThreadManager {
  private constructor(
    private readonly computePools: Map<string, ComputePool>,
    private readonly asyncPools: Map<string, AsyncPool>,
  ) {}

  /** Validates the whole config, then starts every pool; if one fails, the others are closed. */
  static async start(config: ThreadManagerConfig, options: StartOptions = {}): Promise<ThreadManager> {
    const pools = resolveConfig(config, options.baseDir ?? process.cwd());
    const compute = new Map<string, ComputePool>();
    const asyncs = new Map<string, AsyncPool>();
    const started = await Promise.allSettled(
      pools.map((p) => {
        const o = { name: p.name, module: p.module, threads: p.threads, maxQueue: p.maxQueue, concurrency: p.concurrency };
        return p.kind === "compute" ? ComputePool.start(o) : AsyncPool.start(o);
      }),
    );
    const failed = started.find((s) => s.status === "rejected");
    if (failed) {
      await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.close({ drain: false }) : undefined)));
      throw failed.reason;
    }
    for (const s of started) {
      const pool = (s as PromiseFulfilledResult<ComputePool | AsyncPool>).value;
      if (pool instanceof ComputePool) compute.set(pool.name, pool);
      else asyncs.set(pool.name, pool);
    }
    return new ThreadManager(compute, asyncs);
  }

  /** The compute pool `name`; throws PoolNotFoundError. */
  compute(name: string): ComputePool {
    return this.tryCompute(name) ?? this.missing(name, "compute", this.computePools);
  }

  /** The async pool `name`; throws PoolNotFoundError. */
  async(name: string): AsyncPool {
    return this.tryAsync(name) ?? this.missing(name, "async", this.asyncPools);
  }

  tryCompute(name: string): ComputePool | undefined {
    return this.computePools.get(name);
  }

  tryAsync(name: string): AsyncPool | undefined {
    return this.asyncPools.get(name);
  }

  /** Closes every pool (see TaskPool.close) and resolves when all their threads have exited. */
  async close(options?: CloseOptions): Promise<void> {
    await Promise.all([...this.computePools.values(), ...this.asyncPools.values()].map((p) => p.close(options)));
  }

  private missing(name: string, kind: string, pools: Map<string, unknown>): never {
    throw new PoolNotFoundError(name, kind, [...pools.keys()]);
  }
}
