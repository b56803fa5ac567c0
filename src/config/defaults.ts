/**
 * The pool defaults that the config validator and the pools both rely on, written once. A config
 * key left out gets these (src/config/validate.ts); a pool started from code without the key does too.
 */
import type { SchedulingPolicy } from "./types.ts";

export const POOL_DEFAULTS = {
  /** Bytes of the first arena segment. */
  arenaBytes: 8 << 20,
  /** The arena grows up to this many times its first segment. */
  arenaGrowth: 16,
  maxPayloadBytes: 64 << 20,
  /** How long an idle worker spins before parking (us). */
  spinMicros: 50,
  joinDepth: 64,
  abortGraceMs: 1000,
  /** Slots per worker deque. */
  dequeCapacity: 256,
  /** Task slots of a thread submitter's lane: its tasks in flight at most (PoolBusyError past it). */
  laneSlots: 1024,
  /** Where the task ids' 20-bit slot field ends: every lane's slots together stay below it. */
  slotSpace: 1 << 20,
  policy: { compute: "BATCH", async: "OTHER", native: "OTHER" } as Record<"compute" | "async" | "native", SchedulingPolicy>,
} as const;

/**
 * Lane sizes for a pool: the main thread's `maxQueue` slots, and as many thread lanes of
 * `perThread` slots (a power of two at most that) as fit the slot space (up to `wanted`).
 */
export function laneSizes(maxQueue: number, wanted: number, perThread: number = POOL_DEFAULTS.laneSlots): { mainSlots: number; laneSlots: number; lanes: number } {
  const mainSlots = Math.max(maxQueue, 1);
  const room = POOL_DEFAULTS.slotSpace - mainSlots;
  let laneSlots = 1 << (31 - Math.clz32(Math.max(16, perThread)));
  while (laneSlots > 16 && wanted * laneSlots > room) laneSlots >>= 1;
  const lanes = Math.max(0, Math.min(wanted, Math.floor(room / laneSlots)));
  return { mainSlots, laneSlots, lanes };
}
