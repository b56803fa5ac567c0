/** What pool.metrics() reports: main-side counters and per-thread words read from shared memory. */
import type { PoolControl } from "../common/pool-control.ts";
import type { PoolKind } from "../common/pool-setup.ts";
import type { IdleState } from "../shm/idle.ts";
import { WORKER_EXECUTED, WORKER_FAULTS, WORKER_RUNNING, WORKER_STOLEN } from "../shm/layout.ts";
import type { PoolThread } from "./worker-set.ts";
import type { ThreadRole } from "../common/pool-setup.ts";
import { ManagerGate } from "../shm/manager-gate.ts";
import type { TraceRecord } from "../scaling/scaling-trace.ts";
import type { TaskPool } from "./task-pool.ts";
import { histogram, percentile, type LatencyHistogram, type LatencyMetrics } from "./task-latency.ts";
import { LaneHolder, addCounts, type LaneCounts } from "../shm/submitter-lanes.ts";
import type { ThreadSeats } from "./thread-seats.ts";

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
  /** Tasks whose calling thread exited before they settled (results freed unread): fromThreads.dropped. */
  dropped: number;
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
  /** Threads that exited unexpectedly (a crash, process.exit in a handler or route, out of memory); each is logged and replaced. */
  deaths: number;
  /** Replacements of dead threads that failed to start (retried with backoff; each failure logged). */
  replaceFailures: number;
  /** Tasks whose settling threw inside the completion drain (contained; the others went on). */
  contained: number;
  /** The payload store: segments in use and the cap, bytes, arguments' share, tasks waiting for room, shared buffers registered. */
  arena: { segments: number; maxSegments: number; bytes: number; usedBytes: number; argumentBytes: number; waiting: number; sharedBuffers: number };
  /**
   * Per seat. `status`: running (serving or looking for work), parked (asleep waiting for work, or
   * a dynamic thread behind the pool manager's gate), exited (no thread in the seat).
   */
  threads: Array<{
    index: number; tid: number; role: ThreadRole; status: ThreadStatus; alive: boolean;
    executed: number; stolen: number; running: number; parked: boolean; faults: number;
    /** A dynamic thread behind the pool manager's gate (parked until the manager lets it in). */
    gated: boolean;
  }>;
  /** Live threads by role and status, now (retired standalone threads: `scaler.retired`). */
  threadsByRole: Record<ThreadRole, { running: number; parked: number }>;
  /** Task wait and run times in the current window (see metrics({ resetWindow })). */
  latency: LatencyMetrics;
  /** The same times since the pool started, in Prometheus buckets (never reset). */
  histograms: { wait: LatencyHistogram; run: LatencyHistogram };
  /** The pool manager's view (undefined for a fixed pool). */
  scaler?: ScalerMetrics;
  /**
   * Where tasks come from: the main thread, and every thread that holds a lane in this pool now
   * (by thread name; a lane whose thread exited is "exited" until reaped). `submitted` counts
   * tasks published by that submitter; `pending` its tasks in flight now.
   */
  submitters: SubmitterMetrics[];
  /**
   * Of the counts above, those of thread submitters (the rest are the main thread's); `dropped`:
   * tasks whose calling thread exited before they settled (their results were freed unread).
   */
  fromThreads: { submitted: number; completed: number; failed: number; cancelled: number; crashed: number; busy: number; closed: number; dropped: number };
  /** run() calls refused at once, by reason (shed load): busy (max_queue, max_queue_per_thread), closed. */
  rejected: { busy: number; closed: number };
  /**
   * Serving pools: requests their servers answered since start (functions in `fetch` and `routes`;
   * static Responses are Bun's alone), those answered 5xx or thrown, and their latency.
   */
  requests?: { count: number; errors: number; p50: number; p99: number; histogram: LatencyHistogram };
  /** Async pools: times every thread was full with tasks waiting and none finished for 5 s (a call cycle?). */
  stalls: number;
  /** Thread submitters' lanes: held now, and given back after their threads exited. */
  lanes: { total: number; held: number; reaped: number };
}

/** One submitter's counts (busy, closed: run() calls refused at once). */
export interface SubmitterMetrics extends LaneCounts {
  submitter: string;
}

export type ThreadStatus = "running" | "parked" | "exited";

export interface ScalerMetrics {
  /** Ticks so far. */
  ticks: number;
  /** Ticks so far by the rule's case. */
  ticksByCase: Record<string, number>;
  /** The newest tick: tasks per ms, both EMAs, the case and what was done (undefined before the first tick). */
  last?: TraceRecord;
  /** Standalone threads started, failed to start, and retired after their idle time. */
  spawned: number;
  spawnFailures: number;
  retired: number;
  /** From the manager's request to the standalone thread's ready handshake (main starts it): last and longest, ms. */
  spawnDelayMs: { last: number; max: number };
}

export type ThreadCounters = PoolMetrics["threads"][number];

/** Each seat's counters as the threads last wrote them (they outlive a crashed thread). */
export function threadCounters(control: PoolControl, idle: IdleState, seats: ReadonlyArray<PoolThread | undefined>, roles: ThreadSeats): ThreadCounters[] {
  const word = (i: number, f: number) => Atomics.load(control.w, control.workerWord(i, f));
  const gate = ManagerGate.attach(idle.ref);
  return seats.map((seat, i) => {
    const gated = seat !== undefined && gate.isClosed(i);
    const parked = idle.isParked(i) || gated;
    return {
      index: i, tid: seat?.tid ?? 0, role: roles.roleOf(i), status: seat === undefined ? "exited" : parked ? "parked" : "running",
      alive: seat !== undefined, executed: word(i, WORKER_EXECUTED), stolen: word(i, WORKER_STOLEN), running: word(i, WORKER_RUNNING),
      parked, faults: word(i, WORKER_FAULTS), gated,
    };
  });
}

export function threadsByRole(threads: ThreadCounters[]): PoolMetrics["threadsByRole"] {
  const out = { static: { running: 0, parked: 0 }, dynamic: { running: 0, parked: 0 }, standalone: { running: 0, parked: 0 } };
  for (const t of threads) if (t.alive) out[t.role][t.status as "running" | "parked"]++;
  return out;
}

/** The whole snapshot of one pool. */
export function poolMetrics(pool: TaskPool, window: { latency: LatencyMetrics; histograms: PoolMetrics["histograms"] }): PoolMetrics {
  const { main, control, queues, lanes, store } = pool;
  const threads = threadCounters(control, queues.idle, pool.workers.seats, pool.seats);
  const c = main.counts;
  const submitters: SubmitterMetrics[] = [{
    submitter: "main", submitted: c.submitted, completed: c.completed, failed: c.failed, cancelled: c.cancelled, crashed: c.crashed,
    busy: c.busy, closed: c.closed, pending: main.pending,
  }];
  const fromThreads = { ...pool.reaper.reapedCounts };
  let held = 0;
  for (let lane = 1; lane < lanes.count; lane++) {
    const h = lanes.holder(lane);
    if (h.state === LaneHolder.Free) continue;
    held++;
    const counts = lanes.counts(lane);
    submitters.push({ submitter: h.state === LaneHolder.Held ? pool.directoryHub.nameOf(h.token) : "exited", ...counts });
    addCounts(fromThreads, counts);
  }
  return {
    pool: pool.name, kind: pool.kind, contained: c.contained, ...pool.counts,
    submitted: c.submitted + fromThreads.submitted, completed: c.completed + fromThreads.completed, failed: c.failed + fromThreads.failed,
    cancelled: c.cancelled + fromThreads.cancelled, crashed: c.crashed + fromThreads.crashed, dropped: fromThreads.dropped,
    pending: pool.pending, fromThreads, rejected: { busy: c.busy + fromThreads.busy, closed: c.closed + fromThreads.closed },
    threadsByRole: threadsByRole(threads), scaler: scalerMetrics(pool),
    queueDepth: queues.pending() + main.unpublished, mainWakeups: main.pump.wakeups,
    stolen: threads.reduce((n, t) => n + t.stolen, 0), threads, ...window,
    arena: {
      segments: store.count, maxSegments: pool.maxSegments, bytes: store.capacity, usedBytes: store.usedBytes(),
      argumentBytes: main.argumentBytes, waiting: main.admission.waiting, sharedBuffers: pool.shared.size,
    },
    submitters, lanes: { total: lanes.count - 1, held, reaped: pool.reaper.reaped },
    stalls: pool.stalls,
    requests: requestMetrics(pool),
  };
}

function requestMetrics(pool: TaskPool): PoolMetrics["requests"] {
  if (!pool.requests) return undefined;
  const t = pool.requests.totals();
  return { count: t.requests, errors: t.errors, p50: percentile(t.counts, t.requests, 0.5), p99: percentile(t.counts, t.requests, 0.99), histogram: histogram(t.counts, t.sumUs) };
}

export function scalerMetrics(pool: TaskPool): ScalerMetrics | undefined {
  const trace = pool.seats.trace;
  if (!trace) return undefined;
  return { ticks: trace.ticks, ticksByCase: trace.ticksByCase(), last: trace.read(1)[0], ...pool.seats.counts, spawnDelayMs: { ...pool.seats.spawnDelayMs } };
}
