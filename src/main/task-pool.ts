/**
 * Main thread: a pool of threads that run named handlers from one module, fed through shared
 * memory. `run()` encodes the argument (small values inline, the rest in the payload store), writes
 * a 4-word record to a local batch and returns a promise; the completion pump publishes the batch
 * and settles promises from the completion ring. No postMessage on the task path. An argument that
 * finds no arena room waits in `Admission`; crash repair and close live in their own files.
 * ComputePool and AsyncPool add what differs between the two kinds.
 */
import { ValueCodec } from "../common/codec.ts";
import { refusalFrom, taskErrorFrom } from "../common/error-codec.ts";
import { newSegment, PayloadStore } from "../common/payload-store.ts";
import { PoolControl } from "../common/pool-control.ts";
import type { PoolKind, PoolWorkerSetup } from "../common/pool-setup.ts";
import { SharedObjects } from "../common/shared-objects.ts";
import { HandlerNotFoundError, InvalidArgumentError, PoolBusyError, PoolClosedError } from "../errors.ts";
import { PayloadArena, sizeClassesFor, type SizeClass } from "../shm/arena.ts";
import { Injector } from "../shm/injector.ts";
import {
  ARENA_MAX_SEGMENTS, DONE_OK, DONE_SKIPPED, DONE_UNSENDABLE, ID_GEN_SHIFT, ID_SLOT_MASK, KIND_TASK, OP_KIND_SHIFT,
  OP_TYPE_MASK, OP_TYPE_SHIFT, REC_A, REC_B, REC_ID, REC_OP, REC_WORDS, TASK_GEN_MASK, nextPowerOfTwo,
} from "../shm/layout.ts";
import { PoolQueues } from "../shm/pool-queues.ts";
import { coresForThread, type PlacementPlan, type PoolScaling } from "../config/types.ts";
import { allowedCores } from "../platform/cpus.ts";
import { threadPlacement } from "../platform/placement.ts";
import { Admission, type WaitingTask } from "./admission.ts";
import { CompletionPump } from "./completion-pump.ts";
import { repairAfterDeath } from "./crash-repair.ts";
import { closeOptions, keepingAlive, shutDown } from "./pool-close.ts";
import { StuckTasks } from "./stuck-tasks.ts";
import { watchAbort } from "./task-abort.ts";
import { PoolMailer } from "./pool-mailer.ts";
import { scalerMetrics, threadCounters, threadsByRole, type PoolMetrics } from "./pool-metrics.ts";
import { TaskTable } from "./task-table.ts";
import { TaskTimings } from "../common/task-timings.ts";
import { TaskLatency } from "./task-latency.ts";
import { handleOf, type PoolHandle } from "./pool-handle.ts";
import type { ServeSetup } from "../worker/pool-server.ts";
import { WorkerSet, type PoolThread } from "./worker-set.ts";
import { ThreadSeats } from "./thread-seats.ts";
import type { TraceRecord } from "../scaling/scaling-trace.ts";

export interface TaskPoolOptions {
  name: string;
  kind: PoolKind;
  /** file: URL of the handler module. */
  module: string;
  threads: number;
  /** Most tasks queued, waiting for room or running at once; past it run() rejects with PoolBusyError. */
  maxQueue: number;
  /** Async pools: tasks in flight per thread. */
  concurrency?: number;
  /** How long an idle worker spins before parking (us). */
  spinMicros?: number;
  /** How long the main thread polls for completions before sleeping on the doorbell (us). */
  mainSpinMicros?: number;
  joinDepth?: number;
  /** Bytes of the first arena segment (default 8 MiB). */
  arenaBytes?: number;
  /** The arena grows by segments of `arenaBytes` up to this (default 16 x arenaBytes, at most 64 segments). */
  arenaMaxBytes?: number;
  /** Largest argument or result, in bytes (default 64 MiB). */
  maxPayloadBytes?: number;
  /** Size classes of each segment (tests); default: sizeClassesFor(arenaBytes). */
  arenaClasses?: readonly SizeClass[];
  /** Where the threads run. Default: the process's allowed cores, SCHED_OTHER, nice as inherited. */
  placement?: PlacementPlan;
  /** Thread kinds and the scaler; absent: a fixed pool of `threads` static threads. `threads` is max_threads. */
  scaling?: PoolScaling;
  /** An aborted task still running after this long: its thread is replaced (default 1000). */
  abortGraceMs?: number;
  /** A task running longer than this is aborted with TimeoutError (default: no limit). */
  taskTimeoutMs?: number;
  /** Async pools: a Bun.serve per thread on a shared port (src/worker/pool-server.ts). */
  serve?: ServeSetup;
}

export interface RunOptions {
  /** Aborting rejects the promise with the signal's reason; a queued task never runs. */
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** true (default): finish queued tasks first. false: reject queued tasks with PoolClosedError. */
  drain?: boolean;
  /** Past this, threads are stopped and what is left rejects with PoolClosedError. Default 5000; Infinity: no deadline. */
  timeoutMs?: number;
}

export const DEFAULT_ARENA_BYTES = 8 << 20;
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 << 20;
const DEQUE_CAPACITY = 256;

export abstract class TaskPool {
  readonly name: string;
  readonly kind: PoolKind;
  readonly threads: number;
  readonly maxQueue: number;
  readonly placement: PlacementPlan;
  readonly codec: ValueCodec;
  readonly tasks: TaskTable;
  readonly workers: WorkerSet;
  readonly queues: PoolQueues;
  readonly control: PoolControl;
  readonly pump: CompletionPump;
  readonly admission: Admission;
  readonly shared: SharedObjects;
  readonly counts = { submitted: 0, completed: 0, failed: 0, cancelled: 0, crashed: 0, contained: 0, replaced: 0, replaceFailures: 0 };
  readonly stuck: StuckTasks;
  /** Seats by role; starts the standalone threads the pool manager asks for. */
  readonly seats: ThreadSeats;
  /** Wait and run times, recorded by the threads (src/common/task-timings.ts). */
  readonly timings: TaskTimings;
  private readonly latency: TaskLatency;
  private readonly completions: Injector;
  private readonly store: PayloadStore;
  private readonly mailer: PoolMailer;
  private readonly classes: readonly SizeClass[];
  private readonly maxSegments: number;
  private readonly setup: Omit<PoolWorkerSetup, "index" | "registryPort" | "shared" | "strings" | "placement" | "segments" | "role" | "idleMs" | "firstId">;
  private handlerIds = new Map<string, number>();
  private handlerList: string[] = [];
  private batch: Int32Array;
  private batched = 0;
  /** Arena bytes held by the arguments of tasks not yet completed (at most half the store). */
  private argBytes = 0;
  private readonly sweeper: ReturnType<typeof setInterval>;
  closing: Promise<void> | undefined;
  /** Its threads run servers (async pools with `serve`). */
  readonly serves: boolean;

  protected constructor(o: TaskPoolOptions) {
    this.name = o.name;
    this.kind = o.kind;
    this.threads = o.threads;
    this.maxQueue = o.maxQueue;
    this.serves = o.serve !== undefined;
    const slots = nextPowerOfTwo(o.maxQueue);
    // Every record is in the batch, the injector or a deque; joins add at most a deque's worth per thread.
    this.queues = PoolQueues.allocate({
      workers: o.threads, recordWords: REC_WORDS, dequeCapacity: DEQUE_CAPACITY,
      injectorCapacity: nextPowerOfTwo(slots + o.threads * DEQUE_CAPACITY),
    });
    this.completions = Injector.allocate({ capacity: slots, recordWords: REC_WORDS });
    this.control = PoolControl.allocate(o.threads, slots, o.joinDepth ?? 64);
    const arenaBytes = o.arenaBytes ?? DEFAULT_ARENA_BYTES;
    this.classes = o.arenaClasses ?? sizeClassesFor(arenaBytes);
    this.store = new PayloadStore(PayloadArena.allocate(this.classes, 0).ref);
    this.maxSegments = Math.max(1, Math.min(ARENA_MAX_SEGMENTS, Math.floor((o.arenaMaxBytes ?? 16 * arenaBytes) / arenaBytes)));
    this.mailer = new PoolMailer(this.control, (i) => this.workers.portOf(i), o.threads);
    this.shared = new SharedObjects(0, this.mailer);
    const maxPayload = o.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.codec = new ValueCodec(this.store, this.shared, {
      maxPayload,
      admit: (bytes) => this.argBytes + bytes <= this.store.capacity / 2, // ARENA-S1: the arguments' share
    });
    this.tasks = new TaskTable(this.control);
    this.timings = TaskTimings.allocate(slots, o.threads);
    this.latency = new TaskLatency(this.timings);
    this.stuck = new StuckTasks(this, o.abortGraceMs ?? 1000, o.taskTimeoutMs);
    this.admission = new Admission(() => this.growStore());
    this.batch = new Int32Array(64 * REC_WORDS);
    this.pump = new CompletionPump({
      pendingCount: () => this.pending,
      beforeDrain: () => {
        if (this.mailer.takeFlag()) this.shared.drain(this.mailer.owners());
      },
      afterDrain: (emptied) => {
        if (emptied) this.shared.settle(); // no completion left can name a released buffer
        if (this.admission.waiting > 0) this.admission.admit(); // ARENA-M2
      },
      flushSubmissions: () => this.flush(),
      complete: (r, at) => this.complete(r, at),
      contain: (e) => this.contain(e),
    }, this.completions, this.control, o.mainSpinMicros ?? 20);
    // While no task is pending the pump sleeps: read the workers' mail (releases) now and then.
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
    this.setup = {
      pool: o.name, kind: o.kind, module: o.module, queues: this.queues.refs, completions: this.completions.ref,
      control: this.control.buffer, spinMicros: o.spinMicros ?? 50, maxPayload,
      concurrency: o.concurrency ?? 1, joinDepth: this.control.joinDepth,
      timings: { buffer: this.timings.buffer, slots, mainOrigin: performance.timeOrigin }, serve: o.serve,
    };
    const policy = o.kind === "compute" ? "BATCH" : "OTHER"; // as the config's default (validate.ts, DEFAULT_POLICY)
    this.placement = o.placement ?? { path: o.name, allocation: "OsDefault", cores: allowedCores(), policy, nice: null, priority: 0 };
    this.seats = new ThreadSeats(this, o.scaling, o.threads, this.setup.concurrency);
    this.workers = new WorkerSet(o.name, o.threads, (index, registryPort) => ({
      ...this.setup, index, registryPort, shared: this.shared.snapshot(), strings: this.shared.mailedStrings(), segments: this.store.refs(),
      placement: threadPlacement(o.name, this.placement, index, coresForThread(this.placement, index), this.seats.tagOf(index)),
      role: this.seats.roleOf(index), idleMs: this.seats.idleMsOf(index), firstId: this.mailer.firstIdFor(index),
    }), (index, detail) => repairAfterDeath(this, index, detail), (thread) => this.seats.retired(thread), this.serves);
  }

  /**
   * Starts the static and dynamic threads; rejects (and stops the ones that started) if any fails
   * to load the module. A pool with neither starts one standalone thread, to learn the handler
   * names without loading the module here; it retires after standalone_idle_ms like any other.
   */
  protected async startThreads(): Promise<void> {
    try {
      const started = await Promise.all(Array.from({ length: Math.max(1, this.seats.initial) }, (_, i) => this.workers.start(i)));
      this.handlerList = started[0]!.handlers;
      this.handlerList.forEach((n, i) => this.handlerIds.set(n, i));
    } catch (e) {
      await this.workers.stop();
      this.pump.dispose();
      this.stopSweeping();
      throw e;
    }
  }

  /** Handler names the pool's module exports. */
  get handlers(): readonly string[] {
    return this.handlerList;
  }

  /** Tasks submitted and not yet completed (waiting for arena room included). */
  get pending(): number {
    return this.tasks.pending + this.admission.waiting;
  }

  /** The live threads: index, kernel tid. */
  threadList(): Array<Pick<PoolThread, "index" | "tid">> {
    return this.workers.live().map(({ index, tid }) => ({ index, tid }));
  }

  /** The pool manager's newest per-tick records (up to `last`), oldest first; [] for a fixed pool. */
  scalingTrace(last?: number): TraceRecord[] {
    return this.seats.trace?.read(last) ?? [];
  }

  /**
   * Counters, per-thread state and task times, read now. `resetWindow`: the wait/run percentiles
   * start a new window after this read (the Prometheus histograms never reset).
   */
  metrics(options?: { resetWindow?: boolean }): PoolMetrics {
    const threads = threadCounters(this.control, this.queues.idle, this.workers.seats, this.seats);
    return {
      pool: this.name, kind: this.kind, ...this.counts, pending: this.pending,
      threadsByRole: threadsByRole(threads), scaler: scalerMetrics(this),
      queueDepth: this.queues.pending() + this.batched, mainWakeups: this.pump.wakeups,
      stolen: threads.reduce((n, t) => n + t.stolen, 0), threads,
      ...this.latency.read(options?.resetWindow === true),
      arena: {
        segments: this.store.count, maxSegments: this.maxSegments, bytes: this.store.capacity,
        argumentBytes: this.argBytes, waiting: this.admission.waiting, sharedBuffers: this.shared.size,
      },
    };
  }

  /**
   * Runs `handler(arg, ctx)` on a pool thread.
   * @example const sum = await pool.run("add", [1, 2]);
   */
  run<T = unknown>(handler: string, arg?: unknown, options?: RunOptions): Promise<T> {
    const h = this.handlerIds.get(handler);
    if (h === undefined) return Promise.reject(new HandlerNotFoundError(this.name, handler, this.handlerList));
    return this.submit(handler, h, KIND_TASK, options, arg, this.encodeArgument) as Promise<T>;
  }

  /**
   * A typed handle: the module's function exports as methods that call run().
   * @example const cpu = tm.compute("cpu").bind<typeof import("./cpu.ts")>(); await cpu.fib(30, { signal });
   */
  bind<M>(): PoolHandle<M> {
    return handleOf<PoolHandle<M>>(this.handlerList, (name, arg, options) => this.run(name, arg, options));
  }

  private readonly encodeArgument = (arg: unknown, handler: string): number => this.codec.encode(arg, "argument", handler);

  /**
   * Accepts a task: refused (closed, aborted, busy), queued now, or waiting for arena room.
   * `encode(arg, handler)` puts the argument in the codec and returns 0, or the bytes it still
   * needs. The common path allocates only the promise and the task's entry.
   */
  protected submit<A>(handler: string, h: number, kind: number, options: RunOptions | undefined, arg: A, encode: (arg: A, handler: string) => number): Promise<unknown> {
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Promise.reject(new InvalidArgumentError("options.signal", `must be an AbortSignal, got ${describe(signal)}`));
    }
    if (this.closing) return Promise.reject(new PoolClosedError(this.name));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.pending >= this.maxQueue) return Promise.reject(new PoolBusyError(this.name, this.maxQueue));
    const settle = Promise.withResolvers<unknown>();
    const alone = this.admission.waiting === 0; // else FIFO: behind those waiting, whatever this one needs
    if (alone) {
      let needed: number;
      try {
        needed = encode(arg, handler);
      } catch (e) {
        return Promise.reject(e);
      }
      if (needed === 0) {
        this.enqueue(h, kind, handler, signal, settle);
        return settle.promise;
      }
    }
    const task: WaitingTask = {
      handler, signal, settle,
      encode: () => encode(arg, handler),
      enqueue: () => this.enqueue(h, kind, handler, signal, settle),
    };
    this.admission.wait(task, alone); // ARENA-M1: no room; run() returns, nothing blocks
    return settle.promise;
  }

  /** Queues one task record for the value the codec just encoded (codec.out). */
  private enqueue(h: number, kind: number, handler: string, signal: AbortSignal | undefined, settle: PromiseWithResolvers<unknown>): void {
    const codec = this.codec;
    const id = this.tasks.open(handler, settle, signal);
    const entry = this.tasks.entries[id & ID_SLOT_MASK]!;
    entry.argBytes = codec.arenaBytes;
    if (codec.transients.length) entry.transients = codec.transients.slice();
    if (codec.named.length) entry.keep = codec.named.slice(); // alive until the task ends (PROTOCOL.md, "Mail")
    this.argBytes += codec.arenaBytes;
    this.counts.submitted++;
    const out = codec.out;
    if (this.batched === this.batch.length / REC_WORDS) this.growBatch();
    const at = this.batched++ * REC_WORDS;
    this.batch[at + REC_ID] = id;
    this.batch[at + REC_OP] = h | (out[0]! << OP_TYPE_SHIFT) | (kind << OP_KIND_SHIFT);
    this.batch[at + REC_A] = out[1]!;
    this.batch[at + REC_B] = out[2]!;
    if (signal) watchAbort(this, id, signal);
    this.pump.schedule();
  }

  /**
   * Stops the pool: `drain: true` finishes queued tasks (and those waiting for room) first;
   * `drain: false` rejects them with PoolClosedError. Either way run() rejects from now on, every
   * thread exits, and the promise resolves when they have.
   */
  close(options?: CloseOptions): Promise<void> {
    if (this.closing) return this.closing;
    let o: ReturnType<typeof closeOptions>;
    try {
      o = closeOptions(options);
    } catch (e) {
      return Promise.reject(e);
    }
    this.closing = keepingAlive(shutDown(this, o.drain, o.timeoutMs));
    return this.closing;
  }

  /** Gives a task's slot back, with what its argument held. */
  closeTask(slot: number): void {
    const e = this.tasks.entries[slot];
    if (e === undefined) return;
    this.argBytes -= e.argBytes; // ARENA-M4
    if (e.transients) for (const id of e.transients) this.shared.release(id);
    this.tasks.close(slot);
  }

  /** Idle upkeep: mail from workers (releases of buffers they made), then forget what was released. */
  private sweep(): void {
    if (this.pending > 0) return; // the pump does this while tasks are pending
    if (this.mailer.takeFlag()) this.shared.drain(this.mailer.owners());
    this.shared.settle(); // nothing pending: no completion can name a released buffer
  }

  /** Stops the idle upkeep and the stuck-task watch (the pool closed). */
  stopSweeping(): void {
    clearInterval(this.sweeper);
    this.stuck.stop();
  }

  /** Terminates the thread in seat `index`; crash repair replaces it. */
  replaceThread(index: number, why: string): void {
    if (!this.closing && this.workers.terminate(index, why)) this.counts.replaced++;
  }

  /** Adds an arena segment while below the cap, and tells the workers. */
  private growStore(): boolean {
    if (this.store.count >= this.maxSegments) return false;
    const arena = newSegment(this.store, this.classes);
    this.mailer.broadcast({ t: "seg", ref: arena.ref });
    return true;
  }

  private growBatch(): void {
    const bigger = new Int32Array(this.batch.length * 2);
    bigger.set(this.batch);
    this.batch = bigger;
  }

  /** Publishes the records batched since the last flush, with one claim and at most one wake-up. */
  private flush(): void {
    if (this.batched === 0) return;
    const at = this.timings.now();
    for (let i = 0; i < this.batched; i++) this.timings.queued(this.batch[i * REC_WORDS + REC_ID]! & ID_SLOT_MASK, at);
    const r = this.queues.submitBatch(this.batch, 0, this.batched); // TASK-S2
    this.control.countArrivals(r.published); // the pool manager's frequency detector
    this.pump.published(r.published, r.wokeWorker);
    if (r.published < this.batched) this.batch.copyWithin(0, r.published * REC_WORDS, this.batched * REC_WORDS); // retried next flush
    this.batched -= r.published;
  }

  /** One completion record: settle the caller's promise (unless it already was) and free the slot. */
  private complete(rec: Int32Array, at: number): void {
    const id = rec[at + REC_ID]!;
    const op = rec[at + REC_OP]!;
    const type = (op >>> OP_TYPE_SHIFT) & OP_TYPE_MASK;
    const slot = id & ID_SLOT_MASK;
    const entry = this.tasks.lookup(slot, (id >>> ID_GEN_SHIFT) & TASK_GEN_MASK); // TASK-S3: a stale generation finds none
    const status = op & 0xf;
    if (entry === undefined || entry.settled || status === DONE_SKIPPED) {
      if (status !== DONE_SKIPPED) this.codec.release(type, rec[at + REC_A]!);
      if (entry !== undefined) this.closeTask(slot);
      return;
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
      entry.resolve(value);
    } else {
      this.counts.failed++;
      entry.reject(status === DONE_OK ? value : status === DONE_UNSENDABLE ? refusalFrom(this.name, entry.handler, value) : taskErrorFrom(this.name, entry.handler, value));
    }
  }

  /** A fault inside the completion drain: this task's, not the others'. Reported once per kind. */
  private contain(e: unknown): void {
    this.counts.contained++;
    if (this.counts.contained <= 3) console.error(`bun-thread-manager: pool "${this.name}": an error while settling a task was contained:`, e);
  }

  settle(slot: number, how: (e: { resolve(v: unknown): void; reject(e: unknown): void }) => void): void {
    const e = this.tasks.entries[slot];
    if (!e || e.settled) return;
    e.settled = true;
    how(e);
  }

  /** A running task was aborted: async pools tell its thread, so `ctx.signal` fires. */
  abortRunning(_runner: number, _id: number): void {}
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return `an object (${Object.prototype.toString.call(v)})`;
  return `a ${typeof v}`;
}
