/**
 * Main thread: a pool of threads that run named handlers from one module, fed through shared
 * memory. This class owns the pool's threads, seats, scaling, crash repair and close; the
 * submission side is the main thread's Submitter (`main`, lane 0) and the calls users make go
 * through its PoolClient. Other threads submit through lanes of their own (src/submit/), and the
 * main thread reaps the lanes of threads that exited (src/main/lane-reaper.ts).
 * ComputePool and AsyncPool add what differs between the two kinds.
 */
import { newSegment, PayloadStore } from "../common/payload-store.ts";
import { PoolControl } from "../common/pool-control.ts";
import type { PoolKind, PoolWorkerSetup } from "../common/pool-setup.ts";
import { RequestStats } from "../common/request-stats.ts";
import { SharedObjects } from "../common/shared-objects.ts";
import { TaskTimings } from "../common/task-timings.ts";
import { POOL_DEFAULTS, laneSizes } from "../config/defaults.ts";
import { coresForThread, type PlacementPlan, type PoolScaling } from "../config/types.ts";
import { allowedCores } from "../platform/cpus.ts";
import { threadName, threadPlacement } from "../platform/placement.ts";
import type { TraceRecord } from "../scaling/scaling-trace.ts";
import { PayloadArena, sizeClassesFor, type SizeClass } from "../shm/arena.ts";
import { Injector } from "../shm/injector.ts";
import { ARENA_MAX_SEGMENTS, REC_WORDS, WORKER_CHUNK_ITEMS, nextPowerOfTwo } from "../shm/layout.ts";
import { PoolQueues } from "../shm/pool-queues.ts";
import { SubmitterLanes } from "../shm/submitter-lanes.ts";
import { PoolClient } from "../submit/pool-client.ts";
import { handlerNamesBuffer, publishHandlerNames, type TargetSetup } from "../submit/pool-directory.ts";
import type { PoolHandle } from "../submit/pool-handle.ts";
import type { RunOptions } from "../submit/run-options.ts";
import { Submitter } from "../submit/submitter.ts";
import type { MapOptions, Settled } from "../submit/task-batch.ts";
import type { ServeSetup } from "../worker/pool-server.ts";
import { repairAfterDeath } from "./crash-repair.ts";
import { MailRoute } from "./mail-route.ts";
import { LaneReaper } from "./lane-reaper.ts";
import { cancelNotStarted, closeOptions, keepingAlive, shutDown, type CloseOutcome } from "./pool-close.ts";
import type { PoolDirectoryHub } from "./pool-directory-hub.ts";
import { PoolMailer } from "./pool-mailer.ts";
import { poolMetrics, type PoolMetrics } from "./pool-metrics.ts";
import { StuckTasks } from "./stuck-tasks.ts";
import { TaskLatency } from "./task-latency.ts";
import { ThreadSeats } from "./thread-seats.ts";
import { WorkerSet, type PoolThread } from "./worker-set.ts";

export type { RunOptions };

export interface TaskPoolOptions {
  name: string;
  kind: PoolKind;
  /** file: URL of the handler module. */
  module: string;
  threads: number;
  /** Most tasks the main thread has queued, waiting for room or running at once; past it run() rejects with PoolBusyError. */
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
  serve?: Omit<ServeSetup, "stats">;
  /** Threads other than main that may submit to this pool at once (one lane each). Default: the pool's own threads. */
  submitters?: number;
  /** Tasks one such thread may have in flight here (its lane's slots; default 1024). */
  maxQueuePerThread?: number;
}

const SERVE_ONLY_ARENA = 64 << 10;

export interface CloseOptions {
  /** true (default): finish queued tasks first. false: reject queued tasks with PoolClosedError. */
  drain?: boolean;
  /** Past this, threads are stopped and what is left rejects with PoolClosedError. Default 5000; Infinity: no deadline. */
  timeoutMs?: number;
}

export abstract class TaskPool {
  readonly name: string;
  readonly kind: PoolKind;
  readonly threads: number;
  readonly maxQueue: number;
  readonly placement: PlacementPlan;
  readonly workers: WorkerSet;
  readonly queues: PoolQueues;
  readonly control: PoolControl;
  readonly lanes: SubmitterLanes;
  /** Completion ring per lane (0: the main thread's). */
  readonly rings: Injector[];
  readonly shared: SharedObjects;
  /** The main thread's submission side (lane 0). */
  readonly main: Submitter;
  /** What run(), bind() and parallelFor() go through. */
  protected readonly client: PoolClient;
  readonly counts = { replaced: 0, replaceFailures: 0, deaths: 0 };
  readonly stuck: StuckTasks;
  /** Seats by role; starts the standalone threads the pool manager asks for. */
  readonly seats: ThreadSeats;
  /** Where an argument given with a transfer list goes (a static thread's inbox). */
  private readonly mailRoute = new MailRoute(this);
  /** Wait and run times, recorded by the threads (src/common/task-timings.ts). */
  readonly timings: TaskTimings;
  readonly reaper: LaneReaper;
  readonly store: PayloadStore;
  private readonly latency: TaskLatency;
  private readonly mailer: PoolMailer;
  private readonly classes: readonly SizeClass[];
  readonly maxSegments: number;
  private readonly maxPayload: number;
  private readonly names = handlerNamesBuffer();
  private hub: PoolDirectoryHub | undefined;
  private readonly setup: Omit<PoolWorkerSetup, "index" | "registryPort" | "shared" | "strings" | "placement" | "segments" | "role" | "idleMs" | "firstId" | "directory" | "identity">;
  private readonly sweeper: ReturnType<typeof setInterval>;
  closing: Promise<CloseOutcome> | undefined;
  private closingOutcome: CloseOutcome | undefined;
  /** Its threads run servers (async pools with `serve`). */
  readonly serves: boolean;
  /** Serving pools: requests their servers answered (src/common/request-stats.ts). */
  readonly requests: RequestStats | undefined;

  protected constructor(o: TaskPoolOptions) {
    this.name = o.name;
    this.kind = o.kind;
    this.threads = o.threads;
    this.maxQueue = o.maxQueue;
    this.serves = o.serve !== undefined;
    this.requests = o.serve ? RequestStats.allocate(o.threads) : undefined;
    const { mainSlots, laneSlots, lanes } = laneSizes(o.maxQueue, Math.max(0, o.submitters ?? o.threads), o.maxQueuePerThread);
    this.lanes = SubmitterLanes.allocate(1 + lanes, mainSlots, laneSlots);
    const slots = this.lanes.totalSlots;
    // Every record is in a batch, the injector or a deque; joins add at most a deque's worth per thread.
    this.queues = PoolQueues.allocate({
      workers: o.threads, recordWords: REC_WORDS, dequeCapacity: POOL_DEFAULTS.dequeCapacity,
      injectorCapacity: nextPowerOfTwo(slots + o.threads * POOL_DEFAULTS.dequeCapacity),
    });
    this.rings = Array.from({ length: this.lanes.count }, (_, lane) =>
      Injector.allocate({ capacity: lane === 0 ? nextPowerOfTwo(mainSlots) : 2 * laneSlots, recordWords: REC_WORDS })); // lanes: room for crash notices (LANE K1)
    this.control = PoolControl.allocate(o.threads, slots, o.joinDepth ?? POOL_DEFAULTS.joinDepth);
    // A pool that only serves HTTP runs no tasks: its arena only needs to exist.
    const arenaBytes = o.module === "" ? Math.min(o.arenaBytes ?? SERVE_ONLY_ARENA, SERVE_ONLY_ARENA) : o.arenaBytes ?? POOL_DEFAULTS.arenaBytes;
    this.classes = o.arenaClasses ?? sizeClassesFor(arenaBytes);
    this.store = new PayloadStore(PayloadArena.allocate(this.classes, 0).ref);
    this.maxSegments = Math.max(1, Math.min(ARENA_MAX_SEGMENTS, Math.floor((o.arenaMaxBytes ?? POOL_DEFAULTS.arenaGrowth * arenaBytes) / arenaBytes)));
    this.mailer = new PoolMailer(this.control, (i) => this.workers.portOf(i), o.threads);
    this.shared = new SharedObjects(0, this.mailer);
    this.maxPayload = o.maxPayloadBytes ?? POOL_DEFAULTS.maxPayloadBytes;
    this.timings = TaskTimings.allocate(slots, o.threads);
    this.latency = new TaskLatency(this.timings);
    this.main = new Submitter({
      target: { name: o.name, queues: this.queues, states: this.control.states, lanes: this.lanes, timings: this.timings, countArrivals: (n) => this.control.countArrivals(n) },
      lane: 0, completions: this.rings[0]!, doorbell: this.control.doorbell, store: this.store, shared: this.shared,
      maxPayload: this.maxPayload, spinMicros: o.mainSpinMicros, limit: o.maxQueue,
      main: {
        beforeDrain: () => {
          if (this.mailer.takeFlag()) this.shared.drain(this.mailer.owners());
        },
        mailWaiting: () => this.mailer.flagRaised(),
        afterDrain: (emptied) => {
          if (emptied) this.shared.settle(); // no completion left can name a released buffer
        },
        grow: () => this.growStore(),
        setHot: (hot) => this.control.setMainHot(hot),
        abortedWhileRunning: (slot, gen, runner) => {
          this.abortRunning(runner, slot, gen);
          this.stuck.aborted(slot, gen, runner);
        },
        release: (id) => this.shared.release(id),
        route: () => this.mailRoute.pick(),
      },
    });
    this.client = new PoolClient(this.main, o.threads, o.kind === "compute");
    this.stuck = new StuckTasks(
      this.main, this.lanes, (runner, why) => this.replaceThread(runner, why), (runner, slot, gen) => this.abortRunning(runner, slot, gen),
      o.abortGraceMs ?? POOL_DEFAULTS.abortGraceMs, o.taskTimeoutMs, (runner) => this.control.w[this.control.workerWord(runner, WORKER_CHUNK_ITEMS)]!,
    );
    this.reaper = new LaneReaper(this.lanes, this.rings, this.control.states, this.queues, this.main.codec);
    // While no task is pending the pump sleeps: read the workers' mail (releases) now and then.
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
    this.setup = {
      pool: o.name, kind: o.kind, module: o.module, queues: this.queues.refs, rings: this.rings.map((r) => r.ref), lanes: this.lanes.buffer,
      control: this.control.buffer, spinMicros: o.spinMicros ?? POOL_DEFAULTS.spinMicros, maxPayload: this.maxPayload,
      concurrency: o.concurrency ?? 1, joinDepth: this.control.joinDepth,
      timings: { buffer: this.timings.buffer, slots, mainOrigin: performance.timeOrigin },
      serve: o.serve && { ...o.serve, stats: this.requests!.buffer },
    };
    this.placement = o.placement ?? { path: o.name, allocation: "OsDefault", cores: allowedCores(), policy: POOL_DEFAULTS.policy[o.kind], nice: null, priority: 0 };
    this.seats = new ThreadSeats(this, o.scaling, o.threads, this.setup.concurrency);
    this.workers = new WorkerSet(o.name, o.threads, (index, registryPort) => {
      const tag = this.seats.tagOf(index);
      return {
        ...this.setup, index, registryPort, shared: this.shared.snapshot(), strings: this.shared.mailedStrings(), segments: this.store.refs(),
        placement: threadPlacement(o.name, this.placement, index, coresForThread(this.placement, index), tag),
        role: this.seats.roleOf(index), idleMs: this.seats.idleMsOf(index), firstId: this.mailer.firstIdFor(index),
        directory: this.directoryHub.directory, identity: this.directoryHub.newIdentity(threadName(o.name, index, tag)),
      };
    }, (index, detail, unexpected) => repairAfterDeath(this, index, detail, unexpected), (thread) => this.seats.retired(thread), this.serves, (token) => this.directoryHub.exited(token));
  }

  /** The manager's directory this pool's threads call pools through (a pool started alone has its own). */
  get directoryHub(): PoolDirectoryHub {
    if (!this.hub) throw new Error(`pool "${this.name}": no pool directory connected`);
    return this.hub;
  }

  /** Joins the manager's pool directory; before the threads start. */
  connect(hub: PoolDirectoryHub): void {
    this.hub = hub;
  }

  /** This pool as a submitting thread reaches it (src/submit/pool-directory.ts). */
  target(): TargetSetup {
    return {
      name: this.name, kind: this.kind, threads: this.threads, maxPayload: this.maxPayload, queues: this.queues.refs,
      control: this.control.buffer, lanes: this.lanes.buffer, rings: this.rings.map((r) => r.ref), segment: this.store.refs()[0]!,
      timings: { buffer: this.timings.buffer, slots: this.lanes.totalSlots, seats: this.threads, mainOrigin: performance.timeOrigin },
      names: this.names,
    };
  }

  /**
   * Starts the static and dynamic threads; rejects (and stops the ones that started) if any fails
   * to load the module. A pool with neither starts one standalone thread, to learn the handler
   * names without loading the module here; it retires after standalone_idle_ms like any other.
   */
  async startThreads(): Promise<void> {
    try {
      const count = Math.max(1, this.seats.initial);
      // `port = 0`: the first thread binds a free port, the others share it (a port probed here and
      // bound later could be taken by another process in between).
      const first = this.setup.serve?.port === 0 ? [await this.workers.start(0)] : [];
      if (first[0]?.serving) this.setup.serve = { ...this.setup.serve!, port: first[0].serving.port };
      const started = [...first, ...(await Promise.all(Array.from({ length: count - first.length }, (_, i) => this.workers.start(i + first.length))))];
      this.client.learnHandlers(started[0]!.handlers);
      publishHandlerNames(this.names, started[0]!.handlers);
    } catch (e) {
      await this.workers.stop();
      this.dispose();
      throw e;
    }
  }

  /** Handler names the pool's module exports. */
  get handlers(): readonly string[] {
    return this.client.handlers;
  }

  /** Tasks submitted and not yet completed (waiting for arena room included), by every submitter. */
  get pending(): number {
    let n = this.main.pending;
    for (let lane = 1; lane < this.lanes.count; lane++) n += this.lanes.pending(lane);
    return n;
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
    return poolMetrics(this, this.latency.read(options?.resetWindow === true));
  }

  /**
   * Runs `handler(arg, ctx)` on a pool thread.
   * @example const sum = await pool.run("add", [1, 2]);
   */
  run<T = unknown>(handler: string, arg?: unknown, options?: RunOptions): Promise<T> {
    return this.client.run<T>(handler, arg, options);
  }

  /**
   * Runs `handler(arg, ctx)` for every item of `args` under one promise, results in order; the
   * first error rejects and cancels the rest, `{ settle: true }` keeps every outcome.
   * @example const hashes = await pool.map("sha256", bodies);
   */
  map<T = unknown>(handler: string, args: Iterable<unknown>, options?: MapOptions & { settle?: false }): Promise<T[]>;
  map<T = unknown>(handler: string, args: Iterable<unknown>, options: MapOptions & { settle: true }): Promise<Settled<T>[]>;
  map<T = unknown>(handler: string, args: Iterable<unknown>, options?: MapOptions): Promise<T[] | Settled<T>[]>;
  map(handler: string, args: Iterable<unknown>, options?: MapOptions): Promise<unknown[]> {
    return this.client.map(handler, args, options as MapOptions & { settle?: false });
  }

  /**
   * A typed handle: the module's function exports as methods that call run().
   * @example const cpu = tm.compute("cpu").bind<typeof import("./cpu.ts")>(); await cpu.fib(30, { signal });
   */
  bind<M>(): PoolHandle<M> {
    return this.client.bind<M>();
  }

  /**
   * Stops the pool: `drain: true` finishes queued tasks (and those waiting for room) first;
   * `drain: false` rejects them with PoolClosedError. Either way run() rejects from now on (on
   * every thread), every thread exits, and the promise resolves when they have, with what
   * happened (CloseOutcome). A second close returns the same promise; one with `drain: false`
   * during a draining close cancels what has not started yet.
   */
  close(options?: CloseOptions): Promise<CloseOutcome> {
    let o: ReturnType<typeof closeOptions>;
    try {
      o = closeOptions(options);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.closing) {
      // A close is under way: drain: false still cancels what has not started (the first close's deadline holds).
      if (!o.drain && this.closingOutcome) this.closingOutcome.cancelled += cancelNotStarted(this);
      return this.closing;
    }
    this.main.refusing = "is closed";
    this.lanes.markClosing();
    this.closingOutcome = { pool: this.name, drained: 0, cancelled: 0, cutAtDeadline: 0, timedOut: false };
    this.closing = keepingAlive(shutDown(this, o.drain, o.timeoutMs, this.closingOutcome));
    return this.closing;
  }

  /** Idle upkeep: mail from workers (releases of buffers they made), then forget what was released. */
  private sweep(): void {
    if (this.main.pending > 0) return; // the pump does this while tasks are pending
    this.main.beforeDrain();
    this.shared.settle(); // nothing pending: no completion can name a released buffer
  }

  /** The threads are gone: stop the pump, the idle upkeep, the stuck-task watch and the reaper; wake thread submitters. */
  dispose(): void {
    this.lanes.markStopped(); // LANE S1
    this.main.pump.dispose();
    clearInterval(this.sweeper);
    this.stuck.stop();
    this.reaper.stop();
  }

  /** Times the pool stopped moving with every thread full (async pools: src/main/stall-watch.ts). */
  get stalls(): number {
    return 0;
  }

  /** A static seat whose thread is alive or starting: one an argument may be mailed to (MailRoute). */
  takesMail(seat: number): boolean {
    return this.seats.roleOf(seat) === "static" && this.workers.portOf(seat) !== undefined;
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

  /** A running task was aborted: async pools tell its thread, so `ctx.signal` fires. */
  protected abortRunning(_runner: number, _slot: number, _gen: number): void {}
}
