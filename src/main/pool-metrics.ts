/** What pool.metrics() reports: main-side counters and per-thread words read from shared memory. */
import type { PoolControl } from "../common/pool-control.ts";
import type { PoolKind } from "../common/pool-setup.ts";
import type { IdleState } from "../shm/idle.ts";
import { WORKER_EXECUTED, WORKER_FAULTS, WORKER_RUNNING, WORKER_STOLEN } from "../shm/layout.ts";
import type { PoolThread } from "./worker-set.ts";

/** A snapshot of one pool's counters (tm.metrics() builds on this). */
export interface PoolMetrics {
  pool: string;
  kind: PoolKind;
  /** Tasks accepted by run()/parallelFor since start. */
  submitted: number;
  /** Resolved with a value. */
  completed: number;
  /** Rejected because the handler threw (or its result could not be sent). */
  failed: number;
  /** Rejected by an abort or by close({ drain: false }). */
  cancelled: number;
  /** Rejected because their thread died. */
  crashed: number;
  /** Submitted and not yet completed. */
  pending: number;
  /** Records waiting in the injector and the deques. */
  queueDepth: number;
  /** Times the main thread slept on the completion doorbell and was woken. */
  mainWakeups: number;
  /** Join and parallelFor halves run by a thread other than the one that split them. */
  stolen: number;
  /** Threads terminated and replaced because an aborted or timed-out task did not return within abort_grace_ms. */
  replaced: number;
  /** Tasks whose settling threw inside the completion drain (contained; the others went on). */
  contained: number;
  /** The payload store: segments in use and the cap, bytes, arguments' share, tasks waiting for room, shared buffers registered. */
  arena: { segments: number; maxSegments: number; bytes: number; argumentBytes: number; waiting: number; sharedBuffers: number };
  threads: Array<{ index: number; tid: number; alive: boolean; executed: number; stolen: number; running: number; parked: boolean; faults: number }>;
}

export type ThreadCounters = PoolMetrics["threads"][number];

/** Each seat's counters as the threads last wrote them (they outlive a crashed thread). */
export function threadCounters(control: PoolControl, idle: IdleState, seats: ReadonlyArray<PoolThread | undefined>): ThreadCounters[] {
  const word = (i: number, f: number) => Atomics.load(control.w, control.workerWord(i, f));
  return seats.map((seat, i) => ({
    index: i, tid: seat?.tid ?? 0, alive: seat !== undefined,
    executed: word(i, WORKER_EXECUTED), stolen: word(i, WORKER_STOLEN), running: word(i, WORKER_RUNNING),
    parked: idle.isParked(i), faults: word(i, WORKER_FAULTS),
  }));
}
