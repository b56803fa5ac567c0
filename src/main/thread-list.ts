/** tm.threads(): every managed thread, read back from the kernel. */
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
  /** A pool thread parked waiting for work (a compute thread in Atomics.wait, an async thread idle). */
  parked: boolean;
}

export function describeThreads(runtime: RuntimeThreads, pools: Array<TaskPool | NativePool>): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  const add = (pool: string, role: ThreadInfo["role"], tid: number, parked = false) => {
    const k = tid > 0 ? readThread(tid) : undefined;
    if (!k) return;
    out.push({ pool, role, name: k.name, tid, cores: k.cores, policy: k.policy, nice: k.nice, priority: k.priority, state: k.state, parked });
  };
  add("(main)", "main", runtime.mainTid);
  for (const tid of runtime.placed.keys()) add("(runtime)", "runtime", tid);
  for (const p of pools) {
    if (p instanceof NativePool) {
      for (const t of p.threadList()) add(p.name, "native", t.tid);
    } else {
      const parked = new Map(p.metrics().threads.map((t) => [t.tid, t.parked]));
      // Every pool thread is started with its pool and kept: static (dynamic and standalone threads come with scaling).
      for (const t of p.threadList()) add(p.name, "static", t.tid, parked.get(t.tid));
    }
  }
  return out;
}
