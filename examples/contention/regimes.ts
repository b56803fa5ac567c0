/**
 * The regimes of the contention experiments and the cores each part gets, from the cores this
 * process may use. The config of each regime is built here: the "default config embedded in the
 * package" that `bun run demo` uses, adapted to the machine.
 *
 * Layout for n allowed cores:
 * - the load generator (wrk) gets the last quarter of the cores (at least 1) when n >= 4; with
 *   fewer it shares the first core with the HTTP service (there is no core to spare; said in the
 *   table's note);
 * - of the app's cores, the first third (at least 1) is the HTTP service's in the dedicated regime,
 *   the rest the compute pool's; the main thread (which feeds the job stream) sits with compute.
 */
import type { ThreadManagerConfig } from "../../src/index.ts";

export type Regime = "alone" | "shared" | "dedicated" | "idle" | "piscina";
export const REGIMES: Regime[] = ["alone", "shared", "dedicated", "idle", "piscina"];

export const REGIME_TITLES: Record<Regime, string> = {
  alone: "(0) HTTP alone, no compute load: the floor",
  shared: "(a) shared: HTTP and compute pools on every core, as many threads as cores each",
  dedicated: "(b) dedicated: HTTP and compute on their own DedicatedCoreSets",
  idle: "(c) shared cores, compute pool at policy IDLE",
  piscina: "(d) shared, piscina (its defaults) as the CPU pool",
};

export interface Layout {
  /** Cores the load generator is pinned to. */
  load: number[];
  /** Cores the app may use (the whole process is pinned to them when the load has its own). */
  app: number[];
  /** Dedicated regime: HTTP cores, compute cores (the main thread runs with compute). */
  http: number[];
  compute: number[];
  /** The load generator shares a core with the app (fewer than 4 cores). */
  loadShares: boolean;
}

export function layoutFor(cores: number[]): Layout {
  const n = cores.length;
  const loadShares = n < 4;
  const load = loadShares ? cores.slice(0, 1) : cores.slice(n - Math.max(1, Math.floor(n / 4)));
  const app = loadShares ? cores : cores.slice(0, n - load.length);
  const h = Math.max(1, Math.round(app.length / 3));
  return { load, app, http: app.slice(0, h), compute: app.slice(h), loadShares };
}

/** Half-open range of consecutive cores, as core_allocation wants it (the layouts are consecutive runs). */
function range(cores: number[]): { min: number; max: number } {
  return { min: cores[0]!, max: cores[cores.length - 1]! + 1 };
}

export const SERVER_MODULE = new URL("./server.ts", import.meta.url).href;
export const JOBS_MODULE = new URL("./jobs.ts", import.meta.url).href;

/** The thread manager config of a regime. The piscina regime uses ours only for HTTP. */
export function configFor(regime: Regime, layout: Layout): ThreadManagerConfig {
  const p = layout.app.length;
  const httpShared = { serve: SERVER_MODULE, port: 0, worker_threads: p, concurrency: 1024 };
  const computeShared = { module: JOBS_MODULE, static_threads: p, dynamic_threads: 0, max_threads: p, scaler: { enabled: false } };
  switch (regime) {
    case "shared":
      return { async: { http: httpShared }, compute: { cpu: { ...computeShared, policy: "OTHER" } } };
    case "idle":
      return { async: { http: httpShared }, compute: { cpu: { ...computeShared, policy: "IDLE" } } };
    case "piscina":
    case "alone":
      return { async: { http: httpShared } };
    case "dedicated": {
      const c = layout.compute.length;
      return {
        async: { http: { serve: SERVER_MODULE, port: 0, worker_threads: layout.http.length, concurrency: 1024, core_allocation: { DedicatedCoreSet: range(layout.http) } } },
        // PinnedCores, not a DedicatedCoreSet: the main thread and Bun's helpers share these cores (the rest left by HTTP).
        compute: { cpu: { module: JOBS_MODULE, static_threads: c, dynamic_threads: 0, max_threads: c, scaler: { enabled: false }, policy: "OTHER", core_allocation: { PinnedCores: range(layout.compute) } } },
      };
    }
  }
}

/** Compute threads of a regime (the job stream keeps twice as many jobs in flight). */
export function computeThreads(regime: Regime, layout: Layout): number {
  if (regime === "alone") return 0;
  if (regime === "dedicated") return layout.compute.length;
  if (regime === "piscina") return Math.max(1, Math.floor(layout.app.length * 1.5)); // piscina's default maxThreads: 1.5 x cores
  return layout.app.length;
}
