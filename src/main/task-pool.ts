/**
 * Main thread: a pool of threads that run named handlers from one module, fed through shared
 * memory. `run()` encodes the argument (small values inline, the rest in the payload arena), writes
 * a 4-word record to a local batch and returns a promise; the completion pump publishes the batch
 * and settles promises from the completion ring. No postMessage on the task path.
 * ComputePool and AsyncPool add what differs between the two kinds.
 */
import { ArenaFull, ValueCodec, plainToCause } from "../common/codec.ts";
import { PoolControl, packState } from "../common/pool-control.ts";
import type { PoolKind, PoolWorkerSetup } from "../common/pool-setup.ts";
import { SharedObjects } from "../common/shared-objects.ts";
import {
  HandlerNotFoundError, PoolBusyError, PoolClosedError, TaskError, WorkerCrashedError,
} from "../errors.ts";
import { DEFAULT_SIZE_CLASSES, PayloadArena, type SizeClass } from "../shm/arena.ts";
import { Injector } from "../shm/injector.ts";
import {
  DONE_OK, DONE_SKIPPED, ID_GEN_SHIFT, ID_SLOT_MASK, KIND_TASK, OP_KIND_SHIFT, OP_TYPE_MASK, OP_TYPE_SHIFT,
  REC_A, REC_B, REC_ID, REC_OP, REC_WORDS, TASK_GEN_MASK, TS_ABORT_FLAG, TS_CANCELLED, TS_QUEUED, TS_RUNNING, TS_STATE_MASK,
  WORKER_ALIVE, WORKER_RUNNING, WORKER_SEARCHING, nextPowerOfTwo,
} from "../shm/layout.ts";
import { PoolQueues } from "../shm/pool-queues.ts";
import { coresForThread, type PlacementPlan } from "../config/types.ts";
import { allowedCores } from "../platform/cpus.ts";
import { threadPlacement } from "../platform/placement.ts";
import { CompletionPump } from "./completion-pump.ts";
import { threadCounters, type PoolMetrics } from "./pool-metrics.ts";
import { TaskTable } from "./task-table.ts";
import { WorkerSet, type PoolThread } from "./worker-set.ts";

export interface TaskPoolOptions {
  name: string;
  kind: PoolKind;
  /** file: URL of the handler module. */
  module: string;
  threads: number;
  /** Most tasks queued or running at once; past it run() rejects with PoolBusyError. */
  maxQueue: number;
  /** Async pools: tasks in flight per thread. */
  concurrency?: number;
  /** How long an idle worker spins before parking (us). */
  spinMicros?: number;
  /** How long the main thread polls for completions before sleeping on the doorbell (us). */
  mainSpinMicros?: number;
  joinDepth?: number;
  arenaClasses?: readonly SizeClass[];
  /** Where the threads run. Default: the process's allowed cores, SCHED_OTHER, nice as inherited. */
  placement?: PlacementPlan;
}

export interface RunOptions {
  /** Aborting rejects the promise with the signal's reason; a queued task never runs. */
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** true (default): finish queued tasks first. false: reject queued tasks with PoolClosedError. */
  drain?: boolean;
  /** Past this, threads are stopped and what is left rejects with PoolClosedError. Default 5000. */
  timeoutMs?: number;
}

const DEQUE_CAPACITY = 256;

export abstract class TaskPool {
  readonly name: string;
  readonly kind: PoolKind;
  readonly threads: number;
  readonly maxQueue: number;
  readonly placement: PlacementPlan;
  protected readonly codec: ValueCodec;
  protected readonly tasks: TaskTable;
  protected readonly workers: WorkerSet;
  private readonly queues: PoolQueues;
  private readonly completions: Injector;
  private readonly control: PoolControl;
  private readonly pump: CompletionPump;
  private readonly setup: Omit<PoolWorkerSetup, "index" | "registryPort" | "shared" | "placement">;
  private handlerIds = new Map<string, number>();
  private handlerList: string[] = [];
  private batch: Int32Array;
  private batched = 0;
  private closing: Promise<void> | undefined;
  private readonly counts = { submitted: 0, completed: 0, failed: 0, cancelled: 0, crashed: 0 };

  protected constructor(o: TaskPoolOptions) {
    this.name = o.name;
    this.kind = o.kind;
    this.threads = o.threads;
    this.maxQueue = o.maxQueue;
    const slots = nextPowerOfTwo(o.maxQueue);
    // Every record is in the batch, the injector or a deque; joins add at most a deque's worth per thread.
    this.queues = PoolQueues.allocate({
      workers: o.threads, recordWords: REC_WORDS, dequeCapacity: DEQUE_CAPACITY,
      injectorCapacity: nextPowerOfTwo(slots + o.threads * DEQUE_CAPACITY),
    });
    this.completions = Injector.allocate({ capacity: slots, recordWords: REC_WORDS });
    this.control = PoolControl.allocate(o.threads, slots, o.joinDepth ?? 64);
    const arena = PayloadArena.allocate(o.arenaClasses ?? DEFAULT_SIZE_CLASSES);
    const shared = new SharedObjects(
      0,
      (id, obj) => this.workers.live().forEach((t) => t.port.postMessage({ id, obj })),
      (id) => this.workers.seats[(id >>> 20) - 1]?.port,
    );
    this.codec = new ValueCodec(arena, shared, "try");
    this.tasks = new TaskTable(this.control);
    this.batch = new Int32Array(64 * REC_WORDS);
    this.pump = new CompletionPump(
      { pendingCount: () => this.tasks.pending, flushSubmissions: () => this.flush(), complete: (r, at) => this.complete(r, at) },
      this.completions, this.control, o.mainSpinMicros ?? 20,
    );
    this.setup = {
      pool: o.name, kind: o.kind, module: o.module, queues: this.queues.refs, completions: this.completions.ref,
      control: this.control.buffer, arena: arena.ref, spinMicros: o.spinMicros ?? 50,
      concurrency: o.concurrency ?? 1, joinDepth: this.control.joinDepth,
    };
    this.placement = o.placement ?? { path: o.name, allocation: "OsDefault", cores: allowedCores(), policy: "OTHER", nice: null, priority: 0 };
    this.workers = new WorkerSet(o.name, o.threads, (index, registryPort) => ({
      ...this.setup, index, registryPort, shared: shared.snapshot(),
      placement: threadPlacement(o.name, this.placement, index, coresForThread(this.placement, index)),
    }), (index, detail) => this.threadDied(index, detail));
  }

  /** Starts every thread; rejects (and stops the ones that started) if any fails to load the module. */
  protected async startThreads(): Promise<void> {
    try {
      const started = await Promise.all(Array.from({ length: this.threads }, (_, i) => this.workers.start(i)));
      this.handlerList = started[0]!.handlers;
      this.handlerList.forEach((n, i) => this.handlerIds.set(n, i));
    } catch (e) {
      await this.workers.stop();
      this.pump.dispose();
      throw e;
    }
  }

  /** Handler names the pool's module exports. */
  get handlers(): readonly string[] {
    return this.handlerList;
  }

  /** Tasks submitted and not yet completed. */
  get pending(): number {
    return this.tasks.pending;
  }

  /** The live threads: index, kernel tid. */
  threadList(): Array<Pick<PoolThread, "index" | "tid">> {
    return this.workers.live().map(({ index, tid }) => ({ index, tid }));
  }

  /** Counters and per-thread state, read now. */
  metrics(): PoolMetrics {
    const threads = threadCounters(this.control, this.queues.idle, this.workers.seats);
    return {
      pool: this.name, kind: this.kind, ...this.counts, pending: this.tasks.pending,
      queueDepth: this.queues.pending() + this.batched, mainWakeups: this.pump.wakeups,
      stolen: threads.reduce((n, t) => n + t.stolen, 0), threads,
    };
  }

  /**
   * Runs `handler(arg, ctx)` on a pool thread.
   * @example const sum = await pool.run("add", [1, 2]);
   */
  run<T = unknown>(handler: string, arg?: unknown, options?: RunOptions): Promise<T> {
    const h = this.handlerIds.get(handler);
    if (h === undefined) return Promise.reject(new HandlerNotFoundError(this.name, handler, this.handlerList));
    const refused = this.refuse(options?.signal);
    if (refused) return refused as Promise<T>;
    try {
      this.codec.encode(arg, "argument", handler);
    } catch (e) {
      if (!(e instanceof ArenaFull)) return Promise.reject(e);
      return this.afterArenaFrees(e.bytes, () => this.run<T>(handler, arg, options));
    }
    return this.enqueue(h, KIND_TASK, handler, options?.signal) as Promise<T>;
  }

  /** Why a new task cannot be accepted right now, as a rejected promise; undefined when it can. */
  protected refuse(signal: AbortSignal | undefined): Promise<never> | undefined {
    if (this.closing) return Promise.reject(new PoolClosedError(this.name));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tasks.pending >= this.maxQueue) return Promise.reject(new PoolBusyError(this.name, this.maxQueue));
    return undefined;
  }

  /** The arena had no block: wait for one without blocking the thread, then try again. */
  protected afterArenaFrees<T>(bytes: number, retry: () => Promise<T>): Promise<T> {
    return this.codec.arena.allocAsync(bytes).then((block) => {
      this.codec.arena.free(block);
      return retry();
    });
  }

  /** Queues one task record for the value the codec just encoded (codec.out). */
  protected enqueue(h: number, kind: number, handler: string, signal: AbortSignal | undefined): Promise<unknown> {
    const settle = Promise.withResolvers<unknown>();
    const id = this.tasks.open(handler, TS_QUEUED, settle, signal);
    this.counts.submitted++;
    const out = this.codec.out;
    if (this.batched === this.batch.length / REC_WORDS) this.growBatch();
    const at = this.batched++ * REC_WORDS;
    this.batch[at + REC_ID] = id;
    this.batch[at + REC_OP] = h | (out[0]! << OP_TYPE_SHIFT) | (kind << OP_KIND_SHIFT);
    this.batch[at + REC_A] = out[1]!;
    this.batch[at + REC_B] = out[2]!;
    if (signal) this.watchAbort(id, signal);
    this.pump.schedule();
    return settle.promise;
  }

  /**
   * Stops the pool: `drain: true` finishes queued tasks first; `drain: false` rejects queued tasks
   * with PoolClosedError. Either way run() rejects from now on, every thread exits, and the
   * promise resolves when they have.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.drain ?? true, options.timeoutMs ?? 5000);
    return this.closing;
  }

  private async shutdown(drain: boolean, timeoutMs: number): Promise<void> {
    if (!drain) {
      this.tasks.entries.forEach((e, slot) => {
        if (!e) return;
        const queued = packState(e.gen, 0, TS_QUEUED);
        if (this.tasks.casState(slot, queued, packState(e.gen, 0, TS_CANCELLED))) {
          this.settle(slot, (x) => x.reject(new PoolClosedError(this.name, "was closed before this task ran")));
          this.counts.cancelled++;
        }
      });
    }
    this.pump.schedule();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      this.tasks.whenDrained().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    this.queues.shutdown();
    await this.workers.stop();
    if (timedOut) {
      this.tasks.entries.forEach((e, slot) => {
        if (!e) return;
        this.settle(slot, (x) => x.reject(new PoolClosedError(this.name, `was closed after ${timeoutMs} ms with this task unfinished`)));
        this.tasks.close(slot);
      });
    }
    this.pump.dispose();
  }

  private growBatch(): void {
    const bigger = new Int32Array(this.batch.length * 2);
    bigger.set(this.batch);
    this.batch = bigger;
  }

  /** Publishes the records batched since the last flush, with one claim and at most one wake-up. */
  private flush(): void {
    if (this.batched === 0) return;
    const n = this.queues.submitBatch(this.batch, 0, this.batched);
    this.pump.published(n, this.queues.wokeWorker);
    if (n < this.batched) this.batch.copyWithin(0, n * REC_WORDS, this.batched * REC_WORDS); // retried next flush
    this.batched -= n;
  }

  /** One completion record: settle the caller's promise (unless it already was) and free the slot. */
  private complete(rec: Int32Array, at: number): void {
    const id = rec[at + REC_ID]!;
    const op = rec[at + REC_OP]!;
    const type = (op >>> OP_TYPE_SHIFT) & OP_TYPE_MASK;
    const slot = id & ID_SLOT_MASK;
    const entry = this.tasks.lookup(slot, (id >>> ID_GEN_SHIFT) & TASK_GEN_MASK);
    const status = op & 0xf;
    if (entry === undefined || entry.settled || status === DONE_SKIPPED) {
      if (status !== DONE_SKIPPED) this.codec.release(type, rec[at + REC_A]!);
      this.tasks.close(slot);
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
    if (ok) {
      this.counts.completed++;
      entry.resolve(value);
    } else {
      this.counts.failed++;
      entry.reject(status === DONE_OK ? value : this.taskError(entry.handler, value));
    }
    this.tasks.close(slot);
  }

  private taskError(handler: string, plain: unknown): TaskError {
    const p = plain as { name?: string; message?: string; stack?: string; cause?: unknown; code?: unknown; thrown?: unknown };
    const original = { ...p };
    if ("cause" in p) original.cause = plainToCause(p.cause);
    return new TaskError(this.name, handler, original);
  }

  protected settle(slot: number, how: (e: { resolve(v: unknown): void; reject(e: unknown): void }) => void): void {
    const e = this.tasks.entries[slot];
    if (!e || e.settled) return;
    e.settled = true;
    how(e);
  }

  private watchAbort(id: number, signal: AbortSignal): void {
    const slot = id & ID_SLOT_MASK;
    const entry = this.tasks.entries[slot]!;
    entry.onAbort = () => this.abort(slot, entry.gen, signal.reason);
    signal.addEventListener("abort", entry.onAbort, { once: true });
  }

  /** C1-C2: a queued task becomes CANCELLED (its thread will skip it); a running one gets the abort flag. */
  private abort(slot: number, gen: number, reason: unknown): void {
    const entry = this.tasks.lookup(slot, gen);
    if (!entry || entry.settled) return;
    for (;;) {
      const s = this.tasks.stateOf(slot);
      if (s === packState(gen, 0, TS_QUEUED)) {
        if (!this.tasks.casState(slot, s, packState(gen, 0, TS_CANCELLED))) continue;
        break;
      }
      if ((s & TS_STATE_MASK) === TS_RUNNING && (s & TS_ABORT_FLAG) === 0) {
        if (!this.tasks.casState(slot, s, s | TS_ABORT_FLAG)) continue;
        this.abortRunning(this.tasks.runnerOf(s), slot | (gen << ID_GEN_SHIFT));
      }
      break;
    }
    this.counts.cancelled++;
    this.settle(slot, (x) => x.reject(reason));
  }

  /** A running task was aborted: async pools tell its thread, so `ctx.signal` fires. */
  protected abortRunning(_runner: number, _id: number): void {}

  /**
   * A thread died. Its completions posted before death are taken first; every task it was still
   * running rejects with WorkerCrashedError; its queue counters are repaired; a replacement starts
   * in its seat. Records still in its deque stay there for the others to steal.
   */
  private threadDied(index: number, detail: string): void {
    const w = this.control.w;
    Atomics.store(w, this.control.workerWord(index, WORKER_ALIVE), 0);
    // Join owners parked for a half this thread took look at WORKER_ALIVE when woken (U1).
    for (let i = 0; i < this.threads; i++) if (i !== index) this.queues.idle.unpark(i);
    this.pump.drain();
    this.tasks.entries.forEach((e, slot) => {
      if (!e) return;
      const s = this.tasks.stateOf(slot);
      if ((s & TS_STATE_MASK) === TS_RUNNING && this.tasks.runnerOf(s) === index) {
        this.counts.crashed++;
        this.settle(slot, (x) => x.reject(new WorkerCrashedError(this.name, index, detail)));
        this.tasks.close(slot);
      }
    });
    const searching = Atomics.exchange(w, this.control.workerWord(index, WORKER_SEARCHING), 0) === 1;
    Atomics.store(w, this.control.workerWord(index, WORKER_RUNNING), 0);
    this.queues.idle.releaseDeadWorker(index, searching);
    if (this.closing) return;
    this.workers.start(index).then(
      () => this.queues.idle.notifyOne(),
      () => {}, // the module failed to load again: the seat stays empty, the other threads serve
    );
    this.pump.schedule();
  }
}
