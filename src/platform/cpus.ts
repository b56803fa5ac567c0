/** The CPUs this process may use: sched_getaffinity, so taskset and cgroup cpusets are honoured. */
import { getAffinity, libc } from "./libc.ts";

let allowed: number[] | undefined;

/**
 * The allowed CPU set, read once from the first thread that asks (the main thread, before this
 * library places it anywhere), so pinning the main thread later does not shrink it.
 */
export function allowedCores(): number[] {
  if (allowed === undefined) {
    const read = libc() ? getAffinity(0) : [];
    allowed = read.length > 0 ? read : Array.from({ length: navigator.hardwareConcurrency }, (_, i) => i);
  }
  return allowed;
}

/** Formats cores as a CPU list: [0,1,2,5] -> "0-2,5". */
export function formatCpuList(cores: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cores.length; ) {
    let j = i;
    while (j + 1 < cores.length && cores[j + 1] === cores[j]! + 1) j++;
    parts.push(i === j ? `${cores[i]}` : `${cores[i]}-${cores[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}
