/**
 * The configuration object (the same keys as the TOML file), its defaults, and validation that
 * names the key at fault. Nothing starts until the whole config has passed.
 */
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ConfigError } from "../errors.ts";

export interface ComputePoolConfig {
  /** Handler module, relative to the config's base directory, absolute, or a file: URL. */
  module: string | URL;
  /** Threads that always run. */
  static_threads?: number;
  /** Upper bound of threads; the pool starts this many (adaptive scaling is a later feature). */
  max_threads?: number;
  /** Tasks queued or running at once before run() rejects with PoolBusyError. Default 65536. */
  max_queue?: number;
}

export interface AsyncPoolConfig {
  module: string | URL;
  /** Threads. Default 1. */
  worker_threads?: number;
  /** Tasks in flight per thread. Default 256. */
  concurrency?: number;
  max_queue?: number;
}

export interface ThreadManagerConfig {
  compute?: Record<string, ComputePoolConfig>;
  async?: Record<string, AsyncPoolConfig>;
}

export interface ResolvedPool {
  name: string;
  kind: "compute" | "async";
  module: string;
  threads: number;
  maxQueue: number;
  concurrency: number;
}

export const DEFAULT_MAX_QUEUE = 65536;
const MAX_QUEUE_LIMIT = 1 << 20;
const MAX_THREADS_LIMIT = 4096;

export function resolveConfig(config: ThreadManagerConfig, baseDir: string): ResolvedPool[] {
  if (config === null || typeof config !== "object") throw new ConfigError("(root)", "must be a table");
  checkKeys(config as Record<string, unknown>, "", ["compute", "async"]);
  const pools: ResolvedPool[] = [];
  const seen = new Map<string, string>();
  for (const kind of ["compute", "async"] as const) {
    const table = config[kind];
    if (table === undefined) continue;
    if (table === null || typeof table !== "object") throw new ConfigError(kind, "must be a table of pools");
    for (const [name, raw] of Object.entries(table)) {
      const path = `${kind}.${name}`;
      if (seen.has(name)) throw new ConfigError(path, `pool name "${name}" is already used by ${seen.get(name)}`);
      seen.set(name, path);
      if (raw === null || typeof raw !== "object") throw new ConfigError(path, "must be a table");
      const p = raw as unknown as Record<string, unknown>;
      const module = resolveModule(p.module, `${path}.module`, baseDir);
      const maxQueue = int(p.max_queue, `${path}.max_queue`, 1, MAX_QUEUE_LIMIT, DEFAULT_MAX_QUEUE);
      if (kind === "compute") {
        checkKeys(p, path, ["module", "static_threads", "max_threads", "max_queue"]);
        const stat = int(p.static_threads, `${path}.static_threads`, 0, MAX_THREADS_LIMIT, 0);
        const max = int(p.max_threads, `${path}.max_threads`, 1, MAX_THREADS_LIMIT, Math.max(stat, navigator.hardwareConcurrency));
        if (stat > max) throw new ConfigError(`${path}.static_threads`, `(${stat}) must not exceed max_threads (${max})`);
        pools.push({ name, kind, module, threads: max, maxQueue, concurrency: 1 });
      } else {
        checkKeys(p, path, ["module", "worker_threads", "concurrency", "max_queue"]);
        const threads = int(p.worker_threads, `${path}.worker_threads`, 1, MAX_THREADS_LIMIT, 1);
        const concurrency = int(p.concurrency, `${path}.concurrency`, 1, 1 << 16, 256);
        pools.push({ name, kind, module, threads, maxQueue, concurrency });
      }
    }
  }
  return pools;
}

function checkKeys(table: Record<string, unknown>, path: string, allowed: string[]): void {
  for (const key of Object.keys(table)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(path ? `${path}.${key}` : key, `unknown key (allowed here: ${allowed.join(", ")})`);
    }
  }
}

function int(v: unknown, path: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === "bigint") v = Number(v);
  if (typeof v !== "number" || !Number.isInteger(v)) throw new ConfigError(path, `must be an integer, got ${JSON.stringify(v)}`);
  if (v < min || v > max) throw new ConfigError(path, `must be in ${min}..${max}, got ${v}`);
  return v;
}

function resolveModule(v: unknown, path: string, baseDir: string): string {
  let file: string;
  if (v instanceof URL) file = fileURLToPath(v);
  else if (typeof v === "string" && v.startsWith("file:")) file = fileURLToPath(v);
  else if (typeof v === "string" && v.length > 0) file = isAbsolute(v) ? v : resolve(baseDir, v);
  else throw new ConfigError(path, "must be a module path (string) or a file: URL");
  if (!existsSync(file)) throw new ConfigError(path, `module not found: ${file}`);
  return pathToFileURL(file).href;
}
