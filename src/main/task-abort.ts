/**
 * Main thread: aborting a task through its `AbortSignal` (PROTOCOL.md, "Tasks and completions",
 * "Cancellation"). A queued task becomes CANCELLED (its thread will skip it and post SKIPPED); a running one
 * gets the abort flag (compute handlers see `ctx.signal.aborted`, async pools fire `ctx.signal`).
 * Either way the caller's promise rejects now with the signal's reason.
 */
import { packState } from "../common/pool-control.ts";
import { ID_GEN_SHIFT, ID_SLOT_MASK, TS_ABORT_FLAG, TS_CANCELLED, TS_QUEUED, TS_RUNNING, TS_STATE_MASK } from "../shm/layout.ts";
import type { TaskPool } from "./task-pool.ts";

/** Listens on `signal` for the task `id` (slot | gen << 20); TaskTable.close removes the listener. */
export function watchAbort(pool: TaskPool, id: number, signal: AbortSignal): void {
  const slot = id & ID_SLOT_MASK;
  const entry = pool.tasks.entries[slot]!;
  entry.onAbort = () => abortTask(pool, slot, entry.gen, signal.reason);
  signal.addEventListener("abort", entry.onAbort, { once: true });
}

/** Aborts the task in `slot` (generation `gen`) with `reason`; a running one is watched for the grace period. */
export function abortTask(pool: TaskPool, slot: number, gen: number, reason: unknown): void {
  const { tasks } = pool;
  const entry = tasks.lookup(slot, gen);
  if (!entry || entry.settled) return;
  for (;;) {
    const s = tasks.stateOf(slot);
    if (s === packState(gen, 0, TS_QUEUED)) {
      if (!tasks.casState(slot, s, packState(gen, 0, TS_CANCELLED))) continue; // TASK-C1
      break;
    }
    if ((s & TS_STATE_MASK) === TS_RUNNING && (s & TS_ABORT_FLAG) === 0) {
      if (!tasks.casState(slot, s, s | TS_ABORT_FLAG)) continue; // TASK-C2
      pool.abortRunning(tasks.runnerOf(s), slot | (gen << ID_GEN_SHIFT));
      pool.stuck.aborted(slot, gen, tasks.runnerOf(s));
    }
    break;
  }
  pool.counts.cancelled++;
  pool.settle(slot, (x) => x.reject(reason));
}
