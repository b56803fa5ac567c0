/** tm.threads(): every managed thread, read back from the kernel. */
import { coresForThread } from "../config/types.ts";
import { readThread } from "../platform/proc.ts";
import { NativePool } from "./native-pool.ts";
import type { RuntimeThreads } from "./runtime-threads.ts";
import type { TaskPool } from "./task-pool.ts";

export interface ThreadInfo {
  pool: string;
  role: "static" | "dynamic" | "standalone" | "native" | "manager" | "main" | "runtime";
  /** The kernel's name for it (comm). */
  name: string;
  tid: number;
  cores: number[];
  policy: string;
  nice: number;
  priority: number;
  /** The kernel's run state letter from /proc: R running, S sleeping, D disk wait, ... */
  state: string;
  /** A pool thread parked waiting for work (a compute thread in Atomics.wait, an async thread idle), or behind the manager's gate. */
  parked: boolean;
  /** running, parked, or exited (a standalone thread that retired; its seat is free). */
  status: "running" | "parked" | "exited";
}

export function describeThreads(runtime: RuntimeThreads, pools: Array<TaskPool | NativePool>, managerTid?: number): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  const add = (pool: string, role: ThreadInfo["role"], tid: number, parked = false) => {
    const k = tid > 0 ? readThread(tid) : undefined;
    if (!k) return;
    out.push({ pool, role, name: k.name, tid, cores: k.cores, policy: k.policy, nice: k.nice, priority: k.priority, state: k.state, parked, status: parked ? "parked" : "running" });
  };
  add("(main)", "main", runtime.mainTid);
  for (const tid of runtime.placed.keys()) add("(runtime)", "runtime", tid);
  if (managerTid !== undefined) add("(manager)", "manager", managerTid);
  for (const p of pools) {
    if (p instanceof NativePool) {
      for (const t of p.threadList()) add(p.name, "native", t.tid);
      continue;
    }
    for (const t of p.metrics().threads) {
      if (t.alive) add(p.name, t.role, t.tid, t.parked);
      const gone = p.seats.exited.get(t.index);
      if (!t.alive && gone) {
        const pl = p.placement; // what it ran with
        out.push({
          pool: p.name, role: t.role, name: gone.name, tid: gone.tid, cores: coresForThread(pl, t.index), policy: pl.policy,
          nice: pl.nice ?? 0, priority: pl.priority, state: "X", parked: false, status: "exited",
        });
      }
    }
  }
  return out;
}
