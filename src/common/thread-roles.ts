/**
 * Which scaling role each seat of a pool has, shared by the pool (main thread) and the CLI's plan:
 * seats [0, static) static, [static, static + dynamic) dynamic, the rest standalone; a pool that
 * does not scale has only static seats. Names carry the kind: `cpu-s0`, `cpu-d1`, `cpu-x2`.
 */
import type { PoolScaling } from "../config/types.ts";
import type { ThreadRole } from "./pool-setup.ts";

const ROLE_TAG: Record<ThreadRole, string> = { static: "s", dynamic: "d", standalone: "x" };

/** The dynamic seats, [start, end): empty for a pool that does not scale. Standalone seats follow. */
export function dynamicSeats(scaling: PoolScaling | undefined): { start: number; end: number } {
  return scaling ? { start: scaling.staticThreads, end: scaling.staticThreads + scaling.dynamicThreads } : { start: 0, end: 0 };
}

export function roleOfSeat(scaling: PoolScaling | undefined, seat: number): ThreadRole {
  const { start, end } = dynamicSeats(scaling);
  if (!scaling || seat < start) return "static";
  return seat < end ? "dynamic" : "standalone";
}

/** The thread name's kind letter; "" for a pool that does not scale (its threads stay `cpu-0`, `cpu-1`). */
export function roleTag(scaling: PoolScaling | undefined, seat: number): string {
  return scaling ? ROLE_TAG[roleOfSeat(scaling, seat)] : "";
}
