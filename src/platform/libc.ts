/**
 * The libc calls this library makes through bun:ffi, in one place. Each thread that calls them
 * opens libc itself (PLATFORM.md: a dlopen handle is per worker). Off Linux, or where libc cannot be
 * opened, `libc()` returns undefined and callers degrade (tid 0, placement skipped).
 */
import { dlopen, FFIType } from "bun:ffi";

const symbols = {
  gettid: { args: [], returns: FFIType.i32 },
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
