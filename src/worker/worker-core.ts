/**
 * Worker side: what every pool thread shares whatever its kind. Attaches to the pool's shared
 * memory once, claims task records, decodes arguments, encodes results and errors, and posts
 * completions (PROTOCOL.md, "Tasks and completions"). One instance per worker thread.
 */
import { inArena, ValueCodec } from "../common/codec.ts";
import { encodeThrown } from "../common/error-codec.ts";
import { PayloadStore } from "../common/payload-store.ts";
import { PoolControl } from "../common/pool-control.ts";
import { TO_MAIN } from "../common/pool-mail.ts";
import type { PoolWorkerSetup } from "../common/pool-setup.ts";
import { SharedObjects } from "../common/shared-objects.ts";
import { PayloadTooLargeError } from "../errors.ts";
import { Injector } from "../shm/injector.ts";
import { TaskTimings } from "../common/task-timings.ts";
import {
  DONE_OK, DONE_SKIPPED, DONE_THREW, DONE_UNSENDABLE, ID_GEN_SHIFT, ID_JOIN_BIT, ID_SLOT_MASK, KIND_CHUNK, KIND_TASK, OP_HANDLER_MASK, OP_KIND_SHIFT,
  OP_TYPE_MASK, OP_TYPE_SHIFT,
  REC_A, REC_B, REC_ID, REC_OP, REC_WORDS, TASK_GEN_MASK, WORKER_CHUNK_AT, WORKER_CHUNK_ITEMS, WORKER_EXECUTED, WORKER_FAULTS, WORKER_FINISHED, WORKER_RUNNING,
} from "../shm/layout.ts";
import { WorkFinder } from "../shm/work-finder.ts";
import { SubmitterLanes } from "../shm/submitter-lanes.ts";
import type { Doorbell } from "../shm/doorbell.ts";
import { RoleLoop } from "./thread-role.ts";
import { WorkerMailer } from "./worker-mailer.ts";
import { releaseChunkArguments } from "./chunk-runner.ts";
import { releaseChunkResults } from "../submit/task-chunk.ts";

const NAP = new Int32Array(new SharedArrayBuffer(4));
/** An idle thread with upkeep due parks this long at most, then collects (turn). */
const IDLE_UPKEEP_MS = 200;
/** A busy thread collects this often at most (busyUpkeep). */
const BUSY_COLLECT_MS = 5000;
/** ... and fully (old generation too) once its heap grew this much since its last full collection. */
const BUSY_FULL_GROWTH = 16 * 2 ** 20;

export type Handler = (...args: any[]) => unknown;

export class WorkerCore {
  readonly pool: string;
  readonly index: number;
  readonly finder: WorkFinder;
  readonly control: PoolControl;
  readonly codec: ValueCodec;
  readonly shared: SharedObjects;
  readonly mailer: WorkerMailer;
  readonly handlers: Handler[];
  readonly handlerNames: string[];
  readonly byName = new Map<string, number>();
  /** static, dynamic or standalone: when the thread rests behind the manager gate or retires. */
  readonly role: RoleLoop;
  /** Completion ring per submitter lane: a task's completion goes to the lane its slot is in. */
  private readonly rings: Injector[];
  private readonly lanes: SubmitterLanes;
  /** Slots below this are the main thread's (lane 0). */
  private readonly mainSlots: number;
  private readonly doorbells: Array<Doorbell | undefined> = [];
  /** Results for thread submitters: arena only, in the segment every thread knows (no mail). */
  private readonly laneCodec: ValueCodec;
  /** Thread submitters' tasks running here, by slot: the argument block each holds until its completion is out (ARENA L2). */
  private readonly heldArguments = new Map<number, number>();
  private readonly done = new Int32Array(REC_WORDS);
  /** (type, a, b) of the last encodeOutcome, and the arena bytes it took. */
  readonly outcome = new Int32Array(3);
  outcomeBytes = 0;
  private readonly runningWord: number;
  private collectedAt = 0;
  /** This thread's heap (process.memoryUsage().heapUsed, per thread in Bun) after its last full collection. */
  private heapAfterFull = 0;
  /** Tasks ran since the last collection: their garbage (buffers adopted, strings, results) waits in this heap. */
  private dirty = false;
  private readonly faultsLogged = new Set<string>();
  private readonly executedWord: number;
  /** Counts map chunk items as they start (own word, plain): the stuck-task watch times each item, not the chunk. */
  readonly chunkItemsWord: number;
  /** chunkAt(slot, item) of the chunk stepping now and its item started last (own word, plain): what crash repair reads if this thread dies. */
  readonly chunkAtWord: number;
  private readonly finishedWord: number;
  private readonly timings: TaskTimings;

  constructor(setup: PoolWorkerSetup, mod: Record<string, unknown>, names: string[]) {
    this.pool = setup.pool;
    this.index = setup.index;
    this.control = PoolControl.attach(setup.control);
    this.finder = new WorkFinder(setup.index, setup.queues, {
      spinMicros: setup.spinMicros,
      onSearching: (on) => this.control.setSearching(setup.index, on),
    });
    this.rings = setup.rings.map((r) => Injector.attach(r));
    this.lanes = SubmitterLanes.attach(setup.lanes);
    this.mainSlots = this.lanes.mainSlots;
    this.mailer = new WorkerMailer(setup.registryPort, this.control, setup.index);
    const store = new PayloadStore(setup.segments[0]!, (n) => this.shared.readMailUntil(0, () => store.knows(n), `arena segment ${n}`));
    for (const ref of setup.segments.slice(1)) store.adopt(ref);
    this.shared = new SharedObjects(setup.index + 1, this.mailer, setup.firstId, (m) => {
      if (m.t === "seg") store.adopt(m.ref);
    });
    for (const [id, buf] of setup.shared) this.shared.receive({ t: "reg", id, buf, origin: 0 });
    for (const [id, s] of setup.strings) this.shared.receive({ t: "str", id, s });
    this.codec = new ValueCodec(store, this.shared, { maxPayload: setup.maxPayload });
    this.laneCodec = new ValueCodec(new PayloadStore(setup.segments[0]!), this.shared, { maxPayload: setup.maxPayload, mailless: true });
    this.handlerNames = names;
    this.handlers = names.map((n) => mod[n] as Handler);
    names.forEach((n, i) => this.byName.set(n, i));
    this.runningWord = this.control.workerWord(setup.index, WORKER_RUNNING);
    this.executedWord = this.control.workerWord(setup.index, WORKER_EXECUTED);
    this.finishedWord = this.control.workerWord(setup.index, WORKER_FINISHED);
    this.chunkItemsWord = this.control.workerWord(setup.index, WORKER_CHUNK_ITEMS);
    this.chunkAtWord = this.control.workerWord(setup.index, WORKER_CHUNK_AT);
    this.timings = TaskTimings.attach(setup.timings.buffer, setup.timings.slots, this.control.workers, setup.timings.mainOrigin);
    this.role = new RoleLoop(setup.role, setup.index, setup.idleMs, setup.queues.idle);
  }

  /**
   * Takes a pool task record for this thread. True: it is ours to run (state now RUNNING with
   * us as runner). False: it was cancelled before it ran; its argument is freed and the main
   * thread told, so the slot can be reused.
   */
  claim(rec: Int32Array): boolean {
    const id = rec[REC_ID]!;
    const slot = id & ID_SLOT_MASK;
    const gen = (id >>> ID_GEN_SHIFT) & TASK_GEN_MASK;
    if (this.control.states.claim(slot, gen, this.index)) {
      this.dirty = true;
      // Only this thread writes its counters: plain increments, read by the main thread for metrics.
      this.control.w[this.runningWord]++;
      this.control.w[this.executedWord]++;
      this.timings.started(this.index, slot);
      return true;
    }
    const op = rec[REC_OP]!;
    const type = (op >>> OP_TYPE_SHIFT) & OP_TYPE_MASK;
    if (((op >>> OP_KIND_SHIFT) & 3) === KIND_CHUNK) releaseChunkArguments(this.codec, this.codec.take(type, rec[REC_A]!, rec[REC_B]!)); // CHUNK-W2
    else this.codec.release(type, rec[REC_A]!);
    this.post(id, DONE_SKIPPED, 0, 0, 0);
    return false;
  }

  /**
   * Decodes (and frees) the argument of a claimed record. A thread's task keeps its argument's
   * block until its completion is out (ARENA L2): its result goes there if it fits.
   */
  takeArgument(rec: Int32Array): unknown {
    const id = rec[REC_ID]!;
    const type = (rec[REC_OP]! >>> OP_TYPE_SHIFT) & OP_TYPE_MASK;
    const kind = (rec[REC_OP]! >>> OP_KIND_SHIFT) & 3;
    if ((id & ID_JOIN_BIT) !== 0 || (id & ID_SLOT_MASK) < this.mainSlots || kind !== KIND_TASK || !inArena(type)) return this.codec.take(type, rec[REC_A]!, rec[REC_B]!);
    this.heldArguments.set(id & ID_SLOT_MASK, rec[REC_A]!);
    return this.codec.peek(type, rec[REC_A]!, rec[REC_B]!);
  }

  handlerOf(rec: Int32Array): number {
    return rec[REC_OP]! & OP_HANDLER_MASK;
  }

  /** True once the caller aborted the task in `slot` (ctx.signal polls this). */
  abortRequested(id: number): boolean {
    return this.control.states.abortRequested(id & ID_SLOT_MASK);
  }

  /**
   * An idle point (between top-level tasks, before parking): read mail the main thread sent (new
   * arena segments, registrations, releases) and forget released buffers (PROTOCOL.md, "Mail").
   */
  idle(): void {
    if (this.mailer.takeFlag()) {
      this.shared.drain([0]);
      this.dirty = true; // releases let go of adopted buffers: collect them at the next idle upkeep
    }
    this.shared.settle();
  }

  /**
   * The thread is back in its event loop (finalizers may run now). A thread that owns shared
   * buffers collects now and then, so the ones its handlers dropped are found and released; an
   * idle thread (`idle`: its park found no work) that ran tasks since its last collection collects
   * once, so a parked thread does not keep their garbage (adopted shared buffers above all) for good.
   * At most one full collection a second.
   */
  turn(idle = false): void {
    if (this.shared.ownedCount === 0 && !(idle && this.dirty)) return;
    const now = performance.now();
    if (now - this.collectedAt < 1000) return;
    this.collectedAt = now;
    this.dirty = false;
    this.collectFully(); // buffers handed on long ago sit in the old generation
  }

  private collectFully(): void {
    Bun.gc(true);
    this.heapAfterFull = process.memoryUsage().heapUsed;
  }

  /**
   * A busy thread that has not collected for BUSY_COLLECT_MS runs a young-generation collection
   * (~1 ms), or a full one (~5-20 ms) when its heap grew BUSY_FULL_GROWTH since the last: a
   * compute thread that never returns to its event loop never runs JSC's collection timers, and
   * young collections keep promoting short-lived garbage (join pairs, argument arrays) that only a
   * full one frees. The soak saw it as RSS climbing ~30 MB/min under fork-join load, all of it
   * freed by one full collection; an async thread that always has tasks in flight grew its heap
   * 114 -> 172 MB in 20 s the same way (it collected only once it idled). Called every few
   * hundred tasks; reads the heap size (~10 us) only when a collection is due.
   */
  busyUpkeep(): void {
    const now = performance.now();
    if (now - this.collectedAt < BUSY_COLLECT_MS) return;
    this.collectedAt = now;
    if (process.memoryUsage().heapUsed - this.heapAfterFull > BUSY_FULL_GROWTH) this.collectFully();
    else Bun.gc(false);
  }

  /** How long an idle park may last before upkeep is due (ms): Infinity when none is. */
  get upkeepMs(): number {
    if (this.shared.ownedCount > 0) return IDLE_UPKEEP_MS;
    return this.dirty ? Math.max(IDLE_UPKEEP_MS, 1000 - (performance.now() - this.collectedAt)) : Infinity;
  }

  /** A fault no task can be blamed for: counted (metrics), logged once per kind with pool and thread. */
  fault(kind: string, error: unknown): void {
    this.control.w[this.control.workerWord(this.index, WORKER_FAULTS)]++; // own counter: plain
    if (this.faultsLogged.has(kind)) return;
    this.faultsLogged.add(kind);
    console.error(`bun-thread-manager: pool "${this.pool}" thread ${this.index}: ${kind} outside any task (counted in metrics; logged once):`, error);
  }

  /** Posts a handler's result; a result that cannot be sent fails its task with a DataCloneError or PayloadTooLargeError. */
  succeed(id: number, handler: number, value: unknown): void {
    const o = this.outcome;
    this.finish(id, this.encodeOutcome(id, handler, true, value), o[0]!, o[1]!, o[2]!);
  }

  /** Posts what handler `handler` (-1: unknown) threw; never throws itself (an error that cannot be sent is described instead). */
  fail(id: number, thrown: unknown, handler = -1): void {
    const o = this.outcome;
    this.finish(id, this.encodeOutcome(id, handler, false, thrown), o[0]!, o[1]!, o[2]!);
  }

  /** Posts a map chunk's item words (chunk-runner.ts); words that cannot be sent free the items' outcomes first, else they would leak. */
  succeedChunk(id: number, handler: number, words: Int32Array): void {
    const o = this.outcome;
    const status = this.encodeOutcome(id, handler, true, words);
    if (status !== DONE_OK) releaseChunkResults(this.codecFor(id), words);
    this.finish(id, status, o[0]!, o[1]!, o[2]!, KIND_CHUNK);
  }

  /**
   * Encodes what a handler of task `id` gave: its result (`ok`) or what it threw. Returns the DONE_
   * status and leaves (type, a, b) in `outcome`. Never throws: a result or error that cannot be sent
   * becomes DONE_UNSENDABLE with why, as plain text (without it when a thread submitter's arena is full).
   */
  encodeOutcome(id: number, handler: number, ok: boolean, value: unknown): number {
    const codec = this.codecFor(id);
    if (this.heldArguments.size > 0) codec.reuse = this.heldArguments.get(id & ID_SLOT_MASK) ?? -1; // none held: the main thread's tasks pay nothing
    let status: number = ok ? DONE_OK : DONE_THREW;
    try {
      // an error's parts that cannot be sent are described in its wire
      if (ok) codec.encode(value, "result", this.handlerNames[handler], TO_MAIN);
      else codec.encode(encodeThrown(value).wire, "error", this.handlerNames[handler] ?? "", TO_MAIN);
    } catch (why) {
      status = DONE_UNSENDABLE;
      const code = why instanceof PayloadTooLargeError ? why.code : "ERR_DATA_CLONE";
      const message = String((why as Error)?.message ?? why).slice(0, 4096);
      const sizes = why instanceof PayloadTooLargeError ? [why.size, why.limit] : [0, 0];
      try {
        codec.encode(JSON.stringify([code, message, ...sizes]), "error", "", TO_MAIN); // to main: fits, or travels as a parcel
      } catch {
        this.outcome.fill(0);
        this.outcomeBytes = 0;
        return status;
      }
    }
    const o = this.outcome;
    const out = codec.out;
    this.outcomeBytes = codec.arenaBytes;
    o[0] = out[0]!; // three stores: TypedArray.set costs more than the rest of a tiny chunk item
    o[1] = out[1]!;
    o[2] = out[2]!;
    return status;
  }

  /** The codec for results of task `id`: the main thread's lane may get mail; other lanes get arena only. */
  private codecFor(id: number): ValueCodec {
    return (id & ID_SLOT_MASK) < this.mainSlots ? this.codec : this.laneCodec;
  }

  private finish(id: number, status: number, type: number, a: number, b: number, kind = KIND_TASK): void {
    this.timings.finished(this.index, id & ID_SLOT_MASK);
    this.control.w[this.runningWord]--;
    this.control.w[this.finishedWord]++; // own counter: plain; the pool manager reads it
    this.post(id, status, type, a, b, kind);
    const held = this.heldArguments.size > 0 ? this.heldArguments.get(id & ID_SLOT_MASK) : undefined;
    if (held === undefined) return;
    this.heldArguments.delete(id & ID_SLOT_MASK);
    if (this.laneCodec.reuse === held) this.laneCodec.store.free(held); // ARENA-L2: the completion is out; the result did not take it
    this.laneCodec.reuse = -1;
  }

  /** Push the completion record into its submitter's ring, then ring that submitter if it sleeps (src/shm/doorbell.ts). */
  private post(id: number, status: number, type: number, a: number, b: number, kind = KIND_TASK): void {
    const d = this.done;
    d[REC_ID] = id; // TASK-T2: the completion record, pushed below, then the doorbell
    d[REC_OP] = status | (type << OP_TYPE_SHIFT) | (kind << OP_KIND_SHIFT); // a chunk's: its result words name its items' results
    d[REC_A] = a;
    d[REC_B] = b;
    const slot = id & ID_SLOT_MASK;
    const lane = slot < this.mainSlots ? 0 : this.lanes.laneOf(slot); // LANE-K3: the lane the slot belongs to
    // A lane's ring holds a cell per slot of the lane (two for other threads' lanes): full only for a moment.
    while (!this.rings[lane]!.push(d)) Atomics.wait(NAP, 0, 0, 0.05); // BELL-D1: published
    if (lane !== 0) {
      (this.doorbells[lane] ??= this.lanes.doorbell(lane)).ring();
      return;
    }
    // The main thread was asleep: it will want a core now. Do not spin against it when idle.
    if (this.control.ringMain()) this.finder.parkSoon();
  }
}
