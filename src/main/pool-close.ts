/**
 * Main thread: closing a pool. `drain: true` finishes queued tasks and those waiting for arena
 * room; `drain: false` rejects them with PoolClosedError and lets running ones finish. Past
 * `timeoutMs` threads are stopped and whatever is left rejects with PoolClosedError.
 */
import { InvalidArgumentError, PoolClosedError } from "../errors.ts";
import type { CloseOptions } from "./task-pool.ts";
import { within } from "../common/within.ts";

/** close()'s options with their defaults; a bad value is an InvalidArgumentError naming it. */
export function closeOptions(o: CloseOptions | undefined): { drain: boolean; timeoutMs: number } {
  const drain = o?.drain ?? true;
  const timeoutMs = o?.timeoutMs ?? 5000;
  if (typeof drain !== "boolean") throw new InvalidArgumentError("options.drain", `must be true or false, got ${String(drain)}`);
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new InvalidArgumentError("options.timeoutMs", `must be a number of ms >= 0 (Infinity: no deadline), got ${typeof timeoutMs === "string" ? JSON.stringify(timeoutMs) : String(timeoutMs)}`);
  }
  return { drain, timeoutMs };
}
import type { TaskPool } from "./task-pool.ts";

/** What a close did (pool.close() and tm.close() resolve with it). */
export interface CloseOutcome {
  pool: string;
  /** Tasks that completed (resolved or rejected by their handler) while the pool closed. */
  drained: number;
  /** Tasks rejected with PoolClosedError before they ran (drain: false): the main thread's, and other threads' queued ones. */
  cancelled: number;
  /** Tasks still running or waiting for room at the deadline, rejected with PoolClosedError. */
  cutAtDeadline: number;
  /** The deadline passed before the pool was idle (its threads were stopped then). */
  timedOut: boolean;
}

/**
 * Cancels what has not started: tasks waiting for room and queued ones of the main thread
 * (rejected now), and other threads' queued ones (their threads skip them; their callers reject
 * them when the SKIPPED comes). Returns how many of other threads' it cancelled (the main thread's
 * count by the growth of its cancelled count, see shutDown); also what a later close({ drain: false })
 * does to a close that is still draining.
 */
export function cancelNotStarted(pool: TaskPool): number {
  const { main, lanes } = pool;
  main.counts.cancelled += main.admission.waiting;
  main.admission.rejectAll(() => new PoolClosedError(pool.name, "was closed before this task found room to start"));
  for (const [slot, e] of main.tasks.inUse()) {
    if (pool.control.states.cancelQueued(slot, e.gen)) {
      main.counts.cancelled++;
      main.settle(slot, (x) => x.reject(new PoolClosedError(pool.name, "was closed before this task ran")));
    }
  }
  let n = 0; // the main thread's are counted by its cancelled count's growth (shutDown)
  const { first } = lanes.slotsOf(1);
  for (let slot = first; slot < lanes.totalSlots; slot++) if (pool.control.states.cancelIfQueued(slot)) n++;
  main.pump.schedule();
  return n;
}

export async function shutDown(pool: TaskPool, drain: boolean, timeoutMs: number, outcome: CloseOutcome): Promise<CloseOutcome> {
  const { main } = pool;
  const deadline = performance.now() + timeoutMs;
  const before = pool.metrics();
  const settledBefore = before.completed + before.failed;
  // The main thread's cancels count by growth, until the drain ends: a map the close ended counts its items
  // (those it never sent, those its running chunks left at their budget), and a close({ drain: false })
  // made while this one drains adds its own.
  const cancelledBefore = main.counts.cancelled;
  if (!drain) outcome.cancelled += cancelNotStarted(pool);
  main.pump.schedule();
  const timedOut = !(await within(whenIdle(pool), timeoutMs));
  outcome.cancelled += main.counts.cancelled - cancelledBefore;
  pool.queues.shutdown();
  // A standalone thread still loading is let finish (terminating it mid-load has crashed Bun), within the close's deadline.
  await pool.seats.settled(deadline - performance.now());
  // Threads with servers stop them gracefully (in-flight requests finish) and exit by themselves.
  if (pool.serves && !timedOut) await within(pool.workers.exits(), deadline - performance.now());
  await pool.workers.stop();
  if (timedOut) {
    const late = (what: string) => new PoolClosedError(pool.name, `was closed after ${timeoutMs} ms with this task ${what}`);
    outcome.cutAtDeadline = main.rejectAll((running) => late(running ? "unfinished" : "still waiting for room"));
  }
  pool.dispose(); // LANE S1: thread submitters reject what they still wait for
  const m = pool.metrics();
  outcome.drained = m.completed + m.failed - settledBefore;
  outcome.timedOut = timedOut;
  return outcome;
}

/** Resolves once nothing is queued, running or waiting for room. */
async function whenIdle(pool: TaskPool): Promise<void> {
  // Both looked at together, after the await: the drain that emptied the table may have admitted more.
  const { main } = pool;
  while (main.pending > 0) {
    if (main.tasks.pending > 0) await main.tasks.whenDrained();
    else {
      // Nothing in flight, so nothing will drain: admit here (an empty store fits the head:
      // PROTOCOL.md, "Progress"); the admitted tasks then drain above.
      main.admission.admit();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

/**
 * `work`, holding the process alive until it settles: pool threads are unref()'d, so a close started
 * from a timer or a signal handler would otherwise let the process exit halfway through it.
 */
export function keepingAlive<T>(work: Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 1 << 30);
  return work.finally(() => clearInterval(timer));
}
