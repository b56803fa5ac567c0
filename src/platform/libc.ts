/**
 * Every libc call this library makes, through bun:ffi, in one place. Each thread that calls them
 * opens libc itself (docs/bun-platform.md: a dlopen handle is per worker). Off Linux, or where libc cannot
 * be opened, `libc()` returns undefined and callers degrade (tid 0, placement skipped with a warning).
 *
 * Return conventions (docs/bun-platform.md): `sched_*`, `setpriority`, `prctl` return -1 and set errno;
 * read errno with `errno()` right after the call, on the same thread.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";

const symbols = {
  gettid: { args: [], returns: FFIType.i32 },
  sched_setaffinity: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  sched_getaffinity: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  sched_setscheduler: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  sched_getscheduler: { args: [FFIType.i32], returns: FFIType.i32 },
  setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
  prctl: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const;

type Libc = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

let cached: Libc | null | undefined;

export function libc(): Libc | undefined {
  if (cached === undefined) {
    cached = null;
    if (process.platform === "linux") {
      try {
        cached = dlopen("libc.so.6", symbols).symbols;
      } catch {
        cached = null;
      }
    }
  }
  return cached ?? undefined;
}

/** The calling thread's kernel thread id (what /proc/self/task lists), or 0 where unknown. */
export function gettid(): number {
  return libc()?.gettid() ?? 0;
}

/** errno of the last failed call on this thread. */
export function errno(): number {
  const l = libc();
  return l ? read.i32(l.__errno_location()!, 0) : 0;
}

export const ERRNO_NAMES: Record<number, string> = { 1: "EPERM", 3: "ESRCH", 13: "EACCES", 22: "EINVAL" };

/** glibc's cpu_set_t is 1024 bits. */
export const CPU_SET_BYTES = 128;

export function cpuMask(cores: readonly number[]): Uint8Array {
  const mask = new Uint8Array(CPU_SET_BYTES);
  for (const c of cores) mask[c >> 3]! |= 1 << (c & 7);
  return mask;
}

export function maskCores(mask: Uint8Array): number[] {
  const cores: number[] = [];
  for (let c = 0; c < mask.length * 8; c++) if (mask[c >> 3]! & (1 << (c & 7))) cores.push(c);
  return cores;
}

/** Sets the affinity of thread `tid` (0: the calling thread). Returns 0 or an errno. */
export function setAffinity(tid: number, cores: readonly number[]): number {
  const l = libc()!;
  return l.sched_setaffinity(tid, CPU_SET_BYTES, ptr(cpuMask(cores))) === 0 ? 0 : errno();
}

/** The cores thread `tid` (0: the calling thread) may run on. */
export function getAffinity(tid: number): number[] {
  const mask = new Uint8Array(CPU_SET_BYTES);
  const l = libc();
  if (!l || l.sched_getaffinity(tid, CPU_SET_BYTES, ptr(mask)) !== 0) return [];
  return maskCores(mask);
}

/** sched_setscheduler(tid, policy, { sched_priority }). Returns 0 or an errno. */
export function setScheduler(tid: number, policy: number, priority: number): number {
  const param = new Int32Array([priority]);
  return libc()!.sched_setscheduler(tid, policy, ptr(param)) === 0 ? 0 : errno();
}

/** setpriority(PRIO_PROCESS, tid, nice): on Linux a per-thread nice value. Returns 0 or an errno. */
export function setNice(tid: number, nice: number): number {
  return libc()!.setpriority(0, tid, nice) === 0 ? 0 : errno();
}

/** Names the calling thread (15 bytes shown by /proc/self/task/<tid>/comm and top -H). */
export function setThreadName(name: string): number {
  const bytes = new TextEncoder().encode(name);
  const buf = new Uint8Array(16);
  buf.set(bytes.subarray(0, 15));
  return libc()!.prctl(15 /* PR_SET_NAME */, ptr(buf), 0, 0, 0) === 0 ? 0 : errno();
}
