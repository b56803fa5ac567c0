/**
 * Applies a thread's placement through libc: name, CPU affinity, scheduling policy and priority,
 * nice. A pool thread calls `placeSelf` on itself before it takes any work; the main thread places
 * itself and Bun's helper threads by tid with `placeThread`.
 */
import type { PlacementPlan, SchedulingPolicy } from "../config/types.ts";
import { ERRNO_NAMES, libc, setAffinity, setNice, setScheduler, setThreadName } from "./libc.ts";
import { formatCpuList } from "./cpus.ts";

export const POLICY_NUMBERS: Record<SchedulingPolicy, number> = { OTHER: 0, FIFO: 1, RR: 2, BATCH: 3, IDLE: 5 };

/** One thread's placement: what a pool sends each of its threads. */
export interface ThreadPlacement {
  pool: string;
  /** Thread name, 15 bytes at most: `{pool}-{i}`. */
  name: string;
  cores: number[];
  policy: SchedulingPolicy;
  nice: number | null;
  priority: number;
}

/** A refused call: which one, and the errno's name. */
export interface PlacementFailure {
  operation: string;
  errno: string;
}

/**
 * `{pool}-{tag}{i}` in at most 15 bytes (the kernel's limit): the pool name is cut, the index kept.
 * `tag` is a scaling pool's thread kind: `s` static, `d` dynamic, `x` standalone.
 */
export function threadName(pool: string, i: number, tag = ""): string {
  const suffix = `-${tag}${i}`;
  const bytes = new TextEncoder().encode(pool);
  let cut = pool;
  if (bytes.length + suffix.length > 15) {
    cut = new TextDecoder().decode(bytes.subarray(0, 15 - suffix.length)).replace(/\uFFFD+$/, "");
  }
  return cut + suffix;
}

export function threadPlacement(pool: string, plan: PlacementPlan, i: number, cores: number[], tag = ""): ThreadPlacement {
  return { pool, name: threadName(pool, i, tag), cores, policy: plan.policy, nice: plan.nice, priority: plan.priority };
}

/** True where placement can be applied (Linux with libc); elsewhere it is skipped. */
export function placementSupported(): boolean {
  return libc() !== undefined;
}

/** Names and places the calling thread. */
export function placeSelf(p: ThreadPlacement): PlacementFailure | undefined {
  if (!placementSupported()) return undefined;
  setThreadName(p.name);
  return placeThread(0, p);
}

/** Places thread `tid` (0: the calling thread): affinity, then policy/priority, then nice. */
export function placeThread(tid: number, p: Pick<ThreadPlacement, "cores" | "policy" | "nice" | "priority">): PlacementFailure | undefined {
  if (!placementSupported()) return undefined;
  let err = setAffinity(tid, p.cores);
  if (err) return failure(`sched_setaffinity(cores ${formatCpuList(p.cores)})`, err);
  const policy = POLICY_NUMBERS[p.policy];
  const priority = p.policy === "FIFO" || p.policy === "RR" ? p.priority : 0;
  const current = libc()!.sched_getscheduler(tid);
  if (current !== policy || priority !== 0) {
    err = setScheduler(tid, policy, priority);
    if (err) return failure(`sched_setscheduler(${p.policy}${priority ? `, priority ${priority}` : ""})`, err);
  }
  if (p.nice !== null) {
    err = setNice(tid, p.nice);
    if (err) return failure(`setpriority(nice ${p.nice})`, err);
  }
  return undefined;
}

function failure(operation: string, errno: number): PlacementFailure {
  return { operation, errno: ERRNO_NAMES[errno] ?? `errno ${errno}` };
}
