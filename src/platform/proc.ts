/**
 * What the kernel says about this process's threads, read from /proc/self/task: name, allowed
 * cores, scheduling policy, nice, realtime priority, run state. Used by tm.threads() and the tests,
 * so what they report is what the kernel applied, not what the config asked for.
 */
import { readdirSync, readFileSync } from "node:fs";

export const POLICY_NAMES: Record<number, string> = { 0: "OTHER", 1: "FIFO", 2: "RR", 3: "BATCH", 5: "IDLE", 6: "DEADLINE" };

export interface KernelThread {
  tid: number;
  name: string;
  cores: number[];
  policy: string;
  nice: number;
  priority: number;
  /** The kernel's state letter: R running, S sleeping, D disk wait, ... */
  state: string;
}

/** Parses a CPU list like "0-3,6,8-9". */
export function parseCpuList(list: string): number[] {
  const cores: number[] = [];
  for (const part of list.trim().split(",")) {
    if (!part) continue;
    const [a, b] = part.split("-").map(Number);
    for (let c = a!; c <= (b ?? a)!; c++) cores.push(c);
  }
  return cores;
}

/** One thread of this process, or undefined when it has exited. */
export function readThread(tid: number): KernelThread | undefined {
  try {
    const dir = `/proc/self/task/${tid}`;
    const status = readFileSync(`${dir}/status`, "utf8");
    const stat = readFileSync(`${dir}/stat`, "utf8");
    // Fields after "(comm) ": state is field 3; nice 19, rt_priority 40, policy 41 (man 5 proc).
    const f = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    return {
      tid,
      name: readFileSync(`${dir}/comm`, "utf8").trim(),
      cores: parseCpuList(/Cpus_allowed_list:\s*(.*)/.exec(status)?.[1] ?? ""),
      state: f[0]!,
      nice: Number(f[16]),
      priority: Number(f[37]),
      policy: POLICY_NAMES[Number(f[38])] ?? `policy ${f[38]}`,
    };
  } catch {
    return undefined;
  }
}

/** Every thread of this process. */
export function listThreads(): KernelThread[] {
  return readdirSync("/proc/self/task")
    .map((t) => readThread(Number(t)))
    .filter((t): t is KernelThread => t !== undefined);
}
