/**
 * Rules about cores across pools: what "dedicated" means, and the placements that are legal but
 * likely to hurt (a realtime thread sharing a core with the main thread; more threads than cores).
 */
import { formatCpuList } from "../platform/cpus.ts";
import type { PlacementPlan, ResolvedConfig, ResolvedPool } from "./types.ts";

/** What the rules need of the validator. */
export interface RuleChecker {
  readonly allowed: number[];
  fail(path: string, message: string): undefined;
}

const keyOf = (p: PlacementPlan) => (p.path === "default_core_allocation" ? p.path : `${p.path}.core_allocation`);
const overlap = (a: number[], b: number[]) => a.filter((x) => b.includes(x));

/**
 * "Dedicated" means dedicated. A pool's DedicatedCoreSet is its own: no other pool's cores, the
 * main thread's or the runtime threads' may be inside it (an error naming both keys), and with
 * `exclusive_dedicated_cores` (default true) every DedicatedCoreSet, the main thread's and
 * [runtime]'s included, is taken out of OsDefault for every pool, and pool sets out of the main
 * thread's and the runtime threads' OsDefault (placed even when not configured).
 */
export function dedicateCores(
  c: RuleChecker, pools: ResolvedPool[], main: PlacementPlan | undefined, runtime: PlacementPlan | undefined, exclusive: boolean,
): { main?: PlacementPlan; runtime?: PlacementPlan } {
  const claims = pools.filter((p) => p.placement.allocation === "DedicatedCoreSet").map((p) => p.placement);
  const others = [...pools.map((p) => p.placement), ...(main ? [main] : []), ...(runtime ? [runtime] : [])];
  for (const claim of claims) {
    for (const other of others) {
      if (other === claim || other.allocation === "OsDefault") continue;
      if (claims.includes(other) && others.indexOf(other) < others.indexOf(claim)) continue; // a pair of pools: reported once, at the later one
      const shared = overlap(other.cores, claim.cores);
      if (shared.length === 0) continue;
      c.fail(`${keyOf(other)}.${other.allocation}`, `uses cores ${formatCpuList(shared)}, which ${keyOf(claim)}.DedicatedCoreSet dedicates to pool "${claim.path.split(".")[1]}" alone (a DedicatedCoreSet is exclusive; give one of them other cores)`);
    }
  }
  if (!exclusive) return { main, runtime };
  const poolClaimed = claims.flatMap((p) => p.cores);
  const allClaimed = [...poolClaimed, ...[main, runtime].filter((p) => p?.allocation === "DedicatedCoreSet").flatMap((p) => p!.cores)];
  const free = c.allowed.filter((x) => !allClaimed.includes(x));
  for (const p of pools) {
    if (p.placement.allocation !== "OsDefault") continue;
    if (free.length === 0) {
      c.fail(`${p.placement.path}.core_allocation`, `OsDefault leaves this pool no core: every allowed core (${formatCpuList(c.allowed)}) is in a DedicatedCoreSet; give it PinnedCores, or set exclusive_dedicated_cores = false`);
    } else {
      p.placement = { ...p.placement, cores: free };
    }
  }
  if (poolClaimed.length === 0) return { main, runtime };
  const rest = c.allowed.filter((x) => !poolClaimed.includes(x));
  const implied = (path: string): PlacementPlan => ({ path, allocation: "OsDefault", cores: rest, policy: "OTHER", nice: null, priority: 0 });
  if (rest.length === 0) return { main, runtime }; // every core is a pool's: nothing to keep main off
  if (!main || main.allocation === "OsDefault") main = implied("default_core_allocation");
  if (!runtime) runtime = implied("runtime");
  else if (runtime.allocation === "OsDefault") runtime = { ...runtime, cores: rest };
  return { main, runtime };
}

/**
 * Threads that always run: every seat of a fixed pool; static + dynamic of a scaling one
 * (standalone threads are for blocking work); none for native pools (threads spawned on demand).
 */
function residentThreads(p: ResolvedPool): number {
  if (p.kind === "native") return 0;
  return p.scaling ? p.scaling.staticThreads + p.scaling.dynamicThreads : p.threads;
}

/**
 * Warnings for `check` and `plan` (exit 0): a FIFO/RR pool sharing a core with the main thread, a
 * non-realtime pool or the runtime threads (it can take every cycle from them); a pool with more
 * threads than cores.
 */
export function placementWarnings(r: ResolvedConfig): string[] {
  const warnings: string[] = [];
  const mainCores = r.main?.cores ?? r.allowed;
  const runtimeCores = r.runtime?.cores ?? r.allowed;
  for (const p of r.pools) {
    const pl = p.placement;
    if (pl.policy === "FIFO" || pl.policy === "RR") {
      const at = `${pl.path}.policy`;
      const withMain = overlap(pl.cores, mainCores);
      if (withMain.length) warnings.push(`${at}: ${pl.policy} threads share cores ${formatCpuList(withMain)} with the main thread (${r.main ? "default_core_allocation" : "default_core_allocation is unset: all cores"}); a busy realtime thread takes every cycle from it`);
      const withRuntime = overlap(pl.cores, runtimeCores);
      if (withRuntime.length) warnings.push(`${at}: ${pl.policy} threads share cores ${formatCpuList(withRuntime)} with Bun's runtime threads (${r.runtime ? "runtime.core_allocation" : "[runtime] is unset: all cores"}): the GC and JIT threads can starve`);
      for (const q of r.pools) {
        if (q === p || q.placement.policy === "FIFO" || q.placement.policy === "RR") continue;
        const shared = overlap(pl.cores, q.placement.cores);
        if (shared.length) warnings.push(`${at}: ${pl.policy} threads share cores ${formatCpuList(shared)} with pool "${q.name}" (${q.placement.path}.core_allocation, ${q.placement.policy}), which they can starve`);
      }
    }
    const resident = residentThreads(p);
    if (resident > pl.cores.length) {
      const key = p.threadsKey ?? "max_threads";
      warnings.push(`${pl.path}.${key}: ${resident} threads on ${pl.cores.length} core${pl.cores.length === 1 ? "" : "s"} (${formatCpuList(pl.cores)}): they will take turns`);
    }
  }
  // A container's CPU quota: threads that always run beyond it are throttled, whatever their cores.
  const q = r.cpuQuota;
  const always = r.pools.reduce((n, p) => n + residentThreads(p), 0);
  if (q && always > q.cores) {
    warnings.push(`(cpu quota): the pools start ${always} threads that always run, but this process may use ${q.cpus} CPU${q.cpus === 1 ? "" : "s"} of time (${q.source}): they will be throttled; size the pools to the quota (defaults follow it) or raise the limit`);
  }
  return warnings;
}

