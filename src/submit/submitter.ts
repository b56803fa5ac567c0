/**
 * One thread's submission side of one pool: its lane's task table, its admission queue (tasks
 * waiting for arena room), the batch of records not yet published, and the completion pump that
 * settles its promises from its lane's completion ring. The main thread has one per pool (lane 0);
 * a pool thread or native thread gets one per pool it calls (src/submit/thread-pools.ts). No
 * postMessage on the task path, and completions never pass through another thread
 * (PROTOCOL.md, "Submitters"). Thread-local; the shared words it touches (task states, injector,
 * lanes) go through their owner files.
 */
import { inArena, ValueCodec } from "../common/codec.ts";
import { refusalFrom, taskErrorFrom } from "../common/error-codec.ts";
import type { PayloadStore } from "../common/payload-store.ts";
import type { SharedObjects } from "../common/shared-objects.ts";
import { Cancelled, type TaskStates } from "../common/task-state.ts";
import type { TaskTimings } from "../common/task-timings.ts";
import { PoolBusyError, PoolClosedError, WorkerCrashedError } from "../errors.ts";
import type { Doorbell } from "../shm/doorbell.ts";
import type { Injector } from "../shm/injector.ts";
import {
  DONE_CRASHED, DONE_OK, DONE_SKIPPED, DONE_UNSENDABLE, ID_GEN_SHIFT, ID_SLOT_MASK, KIND_TASK, OP_KIND_SHIFT, OP_TYPE_MASK, OP_TYPE_SHIFT,
  REC_A, REC_B, REC_ID, REC_OP, REC_WORDS, TASK_GEN_MASK,
} from "../shm/layout.ts";
import type { PoolQueues } from "../shm/pool-queues.ts";
import type { SubmitterLanes } from "../shm/submitter-lanes.ts";
import { Admission, type WaitingTask } from "./admission.ts";
import { CompletionPump, type PumpHost } from "./completion-pump.ts";
import { keepForWait, optionsError, stuckInbox, type RunOptions } from "./run-options.ts";
import { releaseCompletion } from "./task-chunk.ts";
import { TaskTable, type Settle } from "./task-table.ts";

/** Puts a call's argument in the codec: 0, or the arena bytes it still needs. */
export type Encode<A> = (codec: ValueCodec, arg: A, handler: string) => number;

/** What a submitter reaches of its pool's shared memory. */
export interface SubmitterTarget {
  readonly name: string;
  readonly queues: PoolQueues;
  readonly states: TaskStates;
  readonly lanes: SubmitterLanes;
  readonly timings: TaskTimings;
  /** The pool manager's frequency detector: records published (src/common/pool-control.ts). */
  countArrivals(n: number): void;
}

/** The main thread's extras: mail, arena growth, the hot hint, aborting a running task. */
export interface MainSide {
  /** Before completions are drained: read mail the workers sent. */
  beforeDrain(): void;
  /** Workers' mail waits to be read or relayed (the pump's last look before it sleeps). */
  mailWaiting(): boolean;
  /** After a drain; `emptied`: the ring was seen empty (no completion left names a released buffer). */
  afterDrain(emptied: boolean): void;
  /** Adds an arena segment while below the cap; true when it did. */
  grow(): boolean;
  setHot(hot: boolean): void;
  /** A running task was aborted: tell its thread and watch the grace period. */
  abortedWhileRunning(slot: number, gen: number, runner: number): void;
  /** The shared buffers an argument made for itself are given back. */
  release(id: number): void;
  /** A thread an argument may be mailed to now (run's transfer option), or -1. */
  route(): number;
}

export interface SubmitterOptions {
  target: SubmitterTarget;
  lane: number;
  completions: Injector;
  doorbell: Doorbell;
  store: PayloadStore;
  shared: SharedObjects;
  maxPayload: number;
  /** No mail to or from this submitter's peers: arena-only payloads (pool threads). */
  mailless?: boolean;
  spinMicros?: number;
  /** Tasks in flight at most (max_queue); default: the lane's slots. */
  limit?: number;
  main?: MainSide;
}

export class Submitter implements PumpHost {
  readonly name: string;
  readonly lane: number;
  readonly codec: ValueCodec;
  readonly tasks: TaskTable;
  readonly admission: Admission;
  readonly pump: CompletionPump;
  readonly counts = { submitted: 0, completed: 0, failed: 0, cancelled: 0, crashed: 0, contained: 0, busy: 0, closed: 0 }; // busy, closed: refused at once
  refusing: string | undefined; // set when the pool refuses new tasks: the PoolClosedError detail
  /** Arena bytes held by the arguments of tasks not yet completed (at most half the store). */
  private argBytes = 0;
  private batch = new Int32Array(64 * REC_WORDS);
  private batched = 0;
  readonly target: SubmitterTarget;
  private readonly main: MainSide | undefined;
  private readonly maxBlock: number;
  private readonly limit: number;

  constructor(o: SubmitterOptions) {
    this.target = o.target;
    this.name = o.target.name;
    this.lane = o.lane;
    this.main = o.main;
    const { first, count } = o.target.lanes.slotsOf(o.lane);
    this.tasks = new TaskTable(o.target.states, first, count, o.lane === 0 ? undefined : (n) => o.target.lanes.setPending(o.lane, n));
    this.maxBlock = o.store.maxBlock;
    this.limit = Math.min(o.limit ?? count, count);
    this.codec = new ValueCodec(o.store, o.shared, {
      maxPayload: o.maxPayload,
      mailless: o.mailless,
      admit: (bytes) => this.argBytes + bytes <= o.store.capacity / 2, // ARENA-S1: the arguments' share
      route: o.main?.route,
      grow: o.main?.grow,
    });
    this.admission = new Admission(() => this.main?.grow() ?? false, () => this.main === undefined && this.tasks.pending > 0);
    this.pump = new CompletionPump(this, o.completions, o.doorbell, o.spinMicros ?? 20, o.main && ((hot) => o.main!.setHot(hot)), o.main && (() => o.main!.mailWaiting()));
  }

  /** Tasks submitted and not yet completed (waiting for arena room included). */
  get pending(): number {
    return this.tasks.pending + this.admission.waiting;
  }

  pendingCount(): number {
    return this.pending;
  }

  /** Records accepted but not yet published (metrics: the queue depth). */
  get unpublished(): number {
    return this.batched;
  }

  get argumentBytes(): number {
    return this.argBytes;
  }

  /**
   * Accepts a task: refused (closed, aborted, busy), queued now, or waiting for arena room.
   * `encode(arg, handler)` puts the argument in the codec and returns 0, or the bytes it still
   * needs. The common path allocates only the promise and the task's entry.
   */
  submit<A>(handler: string, h: number, kind: number, options: RunOptions | undefined, arg: A, encode: Encode<A>): Promise<unknown> {
    const refused = this.refusal(handler, options);
    if (refused !== undefined) return Promise.reject(refused.reason);
    const settle = Promise.withResolvers<unknown>();
    this.accept(handler, h, kind, options?.signal, arg, encode, settle);
    return settle.promise;
  }

  /** Tasks this submitter may still take before max_queue refuses them. */
  get room(): number {
    return this.limit - this.pending;
  }

  /** Why a call is refused at once (bad options, closed, aborted, busy), or undefined when it may go on. */
  refusal(handler: string, options: RunOptions | undefined): { reason: unknown } | undefined {
    const bad = optionsError(handler, options);
    if (bad !== undefined) return { reason: bad };
    if (this.refusing !== undefined || (this.main === undefined && this.target.lanes.closing)) {
      this.counts.closed++;
      this.publishCounts();
      return { reason: new PoolClosedError(this.name, this.refusing) };
    }
    if (options?.signal?.aborted) return { reason: options.signal.reason };
    if (this.pending >= this.limit) {
      this.counts.busy++;
      this.publishCounts();
      return { reason: new PoolBusyError(this.name, this.limit, this.lane === 0 ? undefined : "tasks queued or running from this thread (max_queue_per_thread; a map's items count one each)") };
    }
    return undefined;
  }

  /**
   * Takes one task whose outcome goes to `settle`: queued now, or waiting for arena room (FIFO
   * behind those already waiting); an argument that can never be sent rejects `settle` at once.
   */
  accept<A>(handler: string, h: number, kind: number, signal: AbortSignal | undefined, arg: A, encode: Encode<A>, settle: Settle): void {
    const alone = this.admission.waiting === 0; // else FIFO: behind those waiting, whatever this one needs
    if (alone) {
      let needed: number;
      try {
        needed = this.encodeChecked(encode, arg, handler);
      } catch (e) {
        return settle.reject(e);
      }
      if (needed === 0) return this.enqueue(h, kind, handler, signal, settle);
    }
    let kept: A;
    try {
      kept = keepForWait(arg, encode, handler); // the caller's later writes must not reach the thread
    } catch (e) {
      return settle.reject(e);
    }
    const task: WaitingTask = {
      handler, signal, settle,
      encode: () => this.encodeChecked(encode, kept, handler),
      enqueue: () => this.enqueue(h, kind, handler, signal, settle, true),
      cancel: (reason) => void (this.counts.cancelled++, this.publishCounts(), settle.reject(reason)),
    };
    this.counts.submitted++; // waiting counts: close and abort count it as cancelled
    this.admission.wait(task, alone); // ARENA-M1: no room; run() returns, nothing blocks
    if (this.main === undefined) this.admission.retrySoon(() => this.pump.schedule());
  }

  /** Encodes an argument: 0, or the bytes it waits for. From a pool thread it lives in one arena block: one larger can never be admitted. */
  private encodeChecked<A>(encode: Encode<A>, arg: A, handler: string): number {
    const needed = encode(this.codec, arg, handler);
    if (needed > this.maxBlock && this.main === undefined) throw this.codec.tooLargeForArena(needed, handler);
    return needed;
  }

  /** Queues one task record for the value the codec just encoded (codec.out). */
  private enqueue(h: number, kind: number, handler: string, signal: AbortSignal | undefined, settle: Settle, waited = false): void {
    const codec = this.codec;
    const id = this.tasks.open(handler, settle, signal);
    settle.queued?.(id);
    const entry = this.tasks.entry(id & ID_SLOT_MASK)!;
    entry.argBytes = codec.arenaBytes;
    if (codec.transients.length) entry.transients = codec.transients.slice();
    if (codec.named.length) entry.keep = codec.named.slice(); // alive until the task ends (PROTOCOL.md, "Mail")
    this.argBytes += codec.arenaBytes;
    if (!waited) this.counts.submitted++;
    const out = codec.out;
    if (this.lane !== 0 && kind === KIND_TASK && inArena(out[0]!)) entry.heldArg = out[1]!; // ARENA L2: its runner holds it until the completion
    if (this.batched === this.batch.length / REC_WORDS) this.growBatch();
    const at = this.batched * REC_WORDS;
    this.batch[at + REC_ID] = id;
    this.batch[at + REC_OP] = h | (out[0]! << OP_TYPE_SHIFT) | (kind << OP_KIND_SHIFT);
    this.batch[at + REC_A] = out[1]!;
    this.batch[at + REC_B] = out[2]!;
    if (signal) this.watchAbort(id, signal);
    if (codec.seat >= 0) this.publishTo(codec.seat, at);
    else this.batched++;
    this.pump.schedule();
  }

  /** INBOX-S1: the record of an argument mailed to one thread goes to that thread's inbox at once (the mail went first). */
  private publishTo(seat: number, at: number): void {
    const { timings, queues } = this.target;
    const id = this.batch[at + REC_ID]!;
    timings.queued(id & ID_SLOT_MASK, timings.now());
    if (!queues.submitTo(seat, this.batch, at)) {
      // The main thread saw room (the only producer), but a thread that died inside a take leaves a cell stuck: no record, no completion.
      this.counts.crashed++;
      this.settle(id & ID_SLOT_MASK, (x) => x.reject(stuckInbox(this.name, seat)));
      return this.closeTask(id & ID_SLOT_MASK);
    }
    this.target.countArrivals(1);
    this.pump.published(1, false);
  }

  /** Publishes the records batched since the last flush, with one claim and at most one wake-up. */
  flushSubmissions(): void {
    if (this.batched === 0) return;
    const { timings, queues } = this.target;
    const at = timings.now();
    for (let i = 0; i < this.batched; i++) timings.queued(this.batch[i * REC_WORDS + REC_ID]! & ID_SLOT_MASK, at);
    const r = queues.submitBatch(this.batch, 0, this.batched); // TASK-S2
    this.target.countArrivals(r.published);
    this.pump.published(r.published, r.wokeWorker);
    this.publishCounts(); // a thread's: what it submitted counts before it can complete (or its thread die)
    if (r.published < this.batched) this.batch.copyWithin(0, r.published * REC_WORDS, this.batched * REC_WORDS); // retried next flush
    this.batched -= r.published;
  }

  beforeDrain(): void {
    this.main?.beforeDrain();
  }

  afterDrain(emptied: boolean, took: number): void {
    this.main?.afterDrain(emptied);
    this.publishCounts();
    // A thread submitter whose pool's threads are gone (and whose ring is empty): nothing it waits for will complete.
    if (emptied && this.lane !== 0 && this.target.lanes.stopped) {
      this.rejectAll((running) => new PoolClosedError(this.name, `was closed before this task ${running ? "finished" : "found room to start"}`)); // LANE-S2
      return;
    }
    this.admission.afterDrain(took); // ARENA-M2
  }

  /** One completion record: settle the caller's promise (unless it already was) and free the slot. */
  complete(rec: Int32Array, at: number): void {
    const id = rec[at + REC_ID]!;
    const op = rec[at + REC_OP]!;
    const type = (op >>> OP_TYPE_SHIFT) & OP_TYPE_MASK;
    const slot = id & ID_SLOT_MASK;
    const entry = this.tasks.lookup(slot, (id >>> ID_GEN_SHIFT) & TASK_GEN_MASK); // TASK-S3: a stale generation finds none
    const status = op & 0xf;
    if (status === DONE_CRASHED) {
      if (entry?.heldArg !== undefined) this.codec.store.free(entry.heldArg); // ARENA L2: the dead runner held it, and no completion names it
      if (entry === undefined || entry.settled) return void (entry && this.closeTask(slot)); // LANE-K2: a real completion posted before the notice came first
      this.counts.crashed++;
      entry.settled = true;
      this.closeTask(slot);
      entry.settle.died?.(rec[at + REC_B]!); // CHUNK K2: B is the runner's WORKER_CHUNK_AT
      return entry.settle.reject(new WorkerCrashedError(this.name, rec[at + REC_A]!, "it exited"));
    }
    if (entry === undefined || entry.settled) {
      releaseCompletion(this.codec, op, rec[at + REC_A]!, rec[at + REC_B]!); // a map chunk's: its items' results too
      return void (entry && this.closeTask(slot));
    }
    if (status === DONE_SKIPPED) {
      // Cancelled by the pool's own close (drain: false) before it ran: this submitter did not settle it.
      this.counts.cancelled++;
      entry.settled = true;
      this.closeTask(slot);
      return entry.settle.reject(new PoolClosedError(this.name, "was closed before this task ran"));
    }
    let value: unknown;
    let ok = status === DONE_OK;
    try {
      value = this.codec.take(type, rec[at + REC_A]!, rec[at + REC_B]!);
    } catch (e) {
      ok = false;
      value = e;
    }
    entry.settled = true;
    this.closeTask(slot);
    if (ok) {
      this.counts.completed++;
      entry.settle.resolve(value);
    } else {
      this.counts.failed++;
      entry.settle.reject(status === DONE_OK ? value : status === DONE_UNSENDABLE ? refusalFrom(this.name, entry.handler, value) : taskErrorFrom(this.name, entry.handler, value));
    }
  }

  /** A fault inside the completion drain: this task's, not the others'. The first three are logged. */
  contain(e: unknown): void {
    this.counts.contained++;
    if (this.counts.contained <= 3) console.error(`bun-thread-manager: pool "${this.name}": an error while settling a task was contained:`, e);
  }

  /** Gives a task's slot back, with what its argument held. */
  closeTask(slot: number): void {
    const e = this.tasks.entry(slot);
    if (e === undefined) return;
    this.argBytes -= e.argBytes; // ARENA-M4
    if (e.transients) for (const id of e.transients) this.main?.release(id);
    this.tasks.close(slot);
  }

  /** Settles the task in `slot` once (its completion then only frees the slot). */
  settle(slot: number, how: (e: Settle) => void): void {
    const e = this.tasks.entry(slot);
    if (!e || e.settled) return;
    e.settled = true;
    how(e.settle);
  }

  /** Aborts the task in `slot` (generation `gen`) with `reason`; `settleStarted: false` leaves one that started to its completion (a map chunk's). */
  abort(slot: number, gen: number, reason: unknown, settleStarted = true): void {
    const entry = this.tasks.lookup(slot, gen);
    if (!entry || entry.settled) return;
    const how = this.target.states.cancel(slot, gen);
    if (how === Cancelled.WhileRunning) this.main?.abortedWhileRunning(slot, gen, this.tasks.runnerOf(slot)); // flagged: the runner stays until it completes
    if (how !== Cancelled.BeforeRun && !settleStarted) return;
    this.counts.cancelled++;
    this.settle(slot, (x) => x.reject(reason));
    this.publishCounts();
  }

  /** A thread submitter's settled counts go to its lane's words, where metrics read them. */
  private publishCounts(): void {
    if (this.lane !== 0) this.target.lanes.setSettled(this.lane, this.counts);
  }

  /**
   * Rejects everything not yet completed: waiting tasks, and every task in the table (`running`
   * says which kind); the slots are freed. Only once nothing can complete any more (the pool's
   * threads are gone). Counted as cancelled; returns how many it rejected, with the items of
   * batches that a rejected item ended (tasks settled earlier are only freed).
   */
  rejectAll(reason: (running: boolean) => unknown): number {
    const before = this.counts.cancelled;
    this.counts.cancelled += this.admission.waiting;
    this.admission.rejectAll(() => reason(false));
    for (const [slot, e] of this.tasks.inUse()) {
      if (!e.settled) this.counts.cancelled++;
      this.settle(slot, (x) => x.reject(reason(true)));
      this.closeTask(slot);
    }
    this.publishCounts();
    return this.counts.cancelled - before;
  }

  /** Listens on `signal` for the task `id` (slot | gen << 20); TaskTable.close removes the listener. */
  private watchAbort(id: number, signal: AbortSignal): void {
    const slot = id & ID_SLOT_MASK;
    const entry = this.tasks.entry(slot)!;
    entry.onAbort = () => this.abort(slot, entry.gen, signal.reason);
    signal.addEventListener("abort", entry.onAbort, { once: true });
  }

  private growBatch(): void {
    const bigger = new Int32Array(this.batch.length * 2);
    bigger.set(this.batch);
    this.batch = bigger;
  }
}
