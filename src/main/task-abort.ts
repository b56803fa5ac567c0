/**
 * Main thread: aborting a task through its `AbortSignal` (PROTOCOL.md, "Tasks and completions",
 * "Cancellation"). A queued task becomes CANCELLED (its thread will skip it and post SKIPPED); a running one
 * gets the abort flag (compute handlers see `ctx.signal.aborted`, async pools fire `ctx.signal`).
 * Either way the caller's promise rejects now with the signal's reason.
 */
import { Cancelled } from "../common/task-state.ts";
import { ID_GEN_SHIFT, ID_SLOT_MASK } from "../shm/layout.ts";
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
  if (pool.control.states.cancel(slot, gen) === Cancelled.WhileRunning) {
    const runner = tasks.runnerOf(slot); // running this generation, flagged: the runner stays until it completes
    pool.abortRunning(runner, slot | (gen << ID_GEN_SHIFT));
    pool.stuck.aborted(slot, gen, runner);
  }
  pool.counts.cancelled++;
  pool.settle(slot, (x) => x.reject(reason));
}
