/**
 * Compute pool thread (rayon-like): runs sync handlers in a blocking loop; `ctx.join(a, b)` pushes
 * b on this thread's deque where idle threads may steal it, runs a inline, then pops b back (not
 * stolen: run inline with the original JS value, nothing decoded) or, if it was stolen, runs other
 * work until the thief posts b's result in this thread's join frame. `parallelFor` ranges split in
 * halves the same way until `grain`. Protocol: PROTOCOL.md ("Join frames").
 */
import { decodeThrown, encodeThrown } from "../common/error-codec.ts";
import { WorkerCrashedError } from "../errors.ts";
import { syncHandlerError } from "../submit/thread-pools.ts";
import {
  ID_JOIN_BIT, ID_JOIN_DEPTH_MASK, ID_JOIN_GEN_SHIFT, ID_OWNER_SHIFT, JOIN_GEN_MASK, KIND_CHUNK, KIND_JOIN, KIND_RANGE, KIND_TASK, OP_KIND_SHIFT,
  OP_TYPE_MASK, OP_TYPE_SHIFT, REC_A, REC_B, REC_ID, REC_OP, REC_WORDS, WORKER_STOLEN,
} from "../shm/layout.ts";
import { NEXT_CLOSED, NEXT_IDLE } from "../shm/work-finder.ts";
import type { DequeOwner } from "../shm/deque.ts";
import type { TaskContext } from "./task-context.ts";
import { LazySignal } from "./task-context.ts";
import { IDLE_GATED, IDLE_RETIRE } from "./thread-role.ts";
import type { WorkerCore } from "./worker-core.ts";
import { runChunk } from "./chunk-runner.ts";
import { FrameOutcome, type JoinFrames, type RangeWords } from "../common/join-frame.ts";

const OWNER_MASK = 0xfff;
/** Busy threads turn their event loop this often (ms); idle ones after this long parked. */
const YIELD_MS = 50;
/** How long a join owner spins for its stolen half before it parks. */
const AWAIT_SPIN_MS = 0.05;
const TURN = 0;
const CLOSED = 1;
const RETIRE = 2;
/** TURN because a park found no work (upkeep may collect), not to turn the loop while busy. */
const IDLE = 3;
/** reclaim(): our own half came back, not stolen. */
const OURS = Symbol("ours");

export class ComputeRuntime {
  private depth = 0;
  private lastName = "";
  private lastId = -1;
  /** Per join depth: the record of the pending half, and where popped records land. */
  private readonly records: Int32Array[];
  private readonly backs: Int32Array[];
  /** Word index of this thread's join frame, per depth. */
  private readonly frames: number[];
  /** The generation this thread last opened per depth; -1: none yet (the frame may be a dead predecessor's). */
  private readonly frameGens: Int16Array;
  /** The frames' words, shared with thieves (join-frame.ts). */
  private readonly joinFrames: JoinFrames;
  private readonly ctx: TaskContext;
  private readonly signal: LazySignal;
  private readonly w: Int32Array;
  /** This thread's deque and the pool's join depth, kept here: the inline join (JOIN J0) reads them per call. */
  private readonly local: DequeOwner;
  private readonly joinDepth: number;

  constructor(private readonly core: WorkerCore, tid: number) {
    this.w = core.control.w;
    this.local = core.finder.local;
    this.joinDepth = core.control.joinDepth;
    this.records = Array.from({ length: core.control.joinDepth }, () => new Int32Array(REC_WORDS));
    this.backs = Array.from({ length: core.control.joinDepth }, () => new Int32Array(REC_WORDS));
    this.frames = Array.from({ length: core.control.joinDepth }, (_, d) => core.control.frameWord(core.index, d));
    this.frameGens = new Int16Array(core.control.joinDepth).fill(-1);
    this.joinFrames = core.control.frames;
    this.signal = new LazySignal((id) => core.abortRequested(id));
    const self = this;
    this.ctx = {
      pool: core.pool,
      threadIndex: core.index,
      tid,
      get signal() {
        return self.signal.get();
      },
      join: (a, b) => this.join(a, b),
      get pools(): never {
        throw syncHandlerError(core.pool);
      },
    } as TaskContext;
  }

  /**
   * The thread's whole life: take records until the pool shuts down. While it owns shared buffers
   * (made here and sent), it returns to its event loop every YIELD_MS of work and after WorkerCore.upkeepMs
   * idle, so finalizers run and dropped buffers are released (PROTOCOL.md, "Mail", M4).
   */
  async run(): Promise<"closed" | "retired"> {
    const rec = new Int32Array(REC_WORDS);
    for (;;) {
      const r = this.serve(rec, performance.now() + YIELD_MS);
      if (r === CLOSED) return "closed";
      if (r === RETIRE) return "retired";
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.core.turn(r === IDLE);
    }
  }

  /**
   * Runs records until `turnAt` passes or the thread has idled WorkerCore.upkeepMs (TURN: turn the event
   * loop now), the pool shuts down (CLOSED), or a standalone thread's idle time is up (RETIRE).
   * A dynamic thread idle for its idle time waits behind the manager gate here. Sync, so the hot
   * loop is not an async function's.
   */
  private serve(rec: Int32Array, turnAt: number): typeof TURN | typeof IDLE | typeof CLOSED | typeof RETIRE {
    const finder = this.core.finder;
    const role = this.core.role;
    for (let k = 1; ; k++) {
      this.core.idle();
      // A timed park wakes slower in Bun: park for good unless upkeep is due (buffers to release, garbage to collect) or the role has an idle time.
      const turnMs = this.core.upkeepMs;
      if (role.resting && role.rest(turnMs) === IDLE_GATED) return TURN;
      const got = finder.next(rec, role.parkMs(turnMs));
      if (got === NEXT_CLOSED) return CLOSED;
      if (got === NEXT_IDLE) {
        if (!role.idleLongEnough()) return IDLE;
        const rested = role.rest(turnMs);
        if (rested === IDLE_RETIRE) return RETIRE;
        if (rested === IDLE_GATED) return TURN;
        continue;
      }
      role.worked();
      this.runRecord(rec);
      // Turning the loop costs a busy thread ~20% of its throughput (measured): only when it owns buffers to release.
      if ((k & 63) === 0 && this.core.shared.ownedCount > 0 && performance.now() >= turnAt) return TURN;
      if ((k & 511) === 0) this.core.busyUpkeep();
    }
  }

  private runRecord(rec: Int32Array): void {
    if ((rec[REC_ID]! & ID_JOIN_BIT) !== 0) return this.runStolenHalf(rec);
    if (!this.core.claim(rec)) return;
    const id = rec[REC_ID]!;
    const h = this.core.handlerOf(rec);
    const kind = (rec[REC_OP]! >>> OP_KIND_SHIFT) & 3;
    const outer = this.signal.begin(id);
    try {
      const arg = this.core.takeArgument(rec);
      if (kind === KIND_CHUNK) this.core.succeedChunk(id, h, runChunk(this.core, id, h, arg, this.callItem));
      else this.core.succeed(id, h, kind === KIND_TASK ? this.call(h, arg) : this.runRangeTask(h, arg as number[]));
    } catch (e) {
      this.core.fail(id, e, h);
    } finally {
      this.signal.end(outer);
    }
  }

  private call(h: number, arg: unknown): unknown {
    const r = this.core.handlers[h]!(arg, this.ctx);
    if (r !== null && typeof r === "object" && typeof (r as { then?: unknown }).then === "function") {
      throw new TypeError(
        `compute handler "${this.core.handlerNames[h]}" returned a Promise; compute pools run sync handlers, use an async pool for async ones`,
      );
    }
    return r;
  }

  /** `call` for a map chunk's items (a method stays a method: the join path calls it in its hot loop). */
  private readonly callItem = (h: number, arg: unknown): unknown => this.call(h, arg);

  private handlerId(name: unknown): number {
    if (name === this.lastName) return this.lastId; // joins call the same one or two names over and over
    const h = typeof name === "string" ? this.core.byName.get(name) : undefined;
    if (h === undefined) {
      throw new TypeError(`ctx.join: pool "${this.core.pool}" has no handler "${String(name)}" (exports: ${this.core.handlerNames.join(", ")})`);
    }
    this.lastName = name as string;
    this.lastId = h;
    return h;
  }

  /** rayon's join: see the file comment. Allocates nothing but the result pair when not stolen. */
  private join(a: [string, unknown], b: [string, unknown]): [unknown, unknown] {
    const ha = this.handlerId(a[0]);
    const hb = this.handlerId(b[0]);
    const depth = this.depth;
    // JOIN-J0 (lazy binary splitting): inside a join we published (depth > 0), while our deque
    // still holds a record a thief has older, bigger work to take, so b is not published; the
    // next join after a steal publishes again. At depth 0 the deque may hold only small queued tasks.
    if (depth >= this.joinDepth || (depth > 0 && this.local.holdsRecords())) return [this.call(ha, a[1]), this.call(hb, b[1])];
    const codec = this.core.codec;
    // No arena room for b's argument: run both halves here (nothing waits for room).
    if (codec.encode(b[1], "join argument", b[0]) !== 0) return [this.call(ha, a[1]), this.call(hb, b[1])]; // ARENA-W2
    const type = codec.out[0]!;
    const rec = this.records[depth]!;
    rec[REC_ID] = ID_JOIN_BIT | (this.core.index << ID_OWNER_SHIFT) | depth;
    rec[REC_OP] = hb | (type << OP_TYPE_SHIFT) | (KIND_JOIN << OP_KIND_SHIFT);
    rec[REC_A] = codec.out[1]!;
    rec[REC_B] = codec.out[2]!;
    const fw = this.publish(rec, depth);
    if (fw < 0) {
      codec.release(type, rec[REC_A]!);
      return [this.call(ha, a[1]), this.call(hb, b[1])];
    }
    this.depth = depth + 1;
    try {
      let r1: unknown;
      try {
        r1 = this.call(ha, a[1]); // JOIN-J2
      } catch (e) {
        if (this.reclaim(rec, fw, true) === OURS) codec.release(type, rec[REC_A]!);
        throw e;
      }
      const r2 = this.reclaim(rec, fw, false);
      if (r2 !== OURS) return [r1, r2];
      codec.release(type, rec[REC_A]!);
      return [r1, this.call(hb, b[1])]; // not stolen: run it here with the original value
    } finally {
      this.depth = depth;
    }
  }

  /** Marks frame `depth` pending and pushes `rec` where others can steal it; -1 when nowhere has room. */
  private publish(rec: Int32Array, depth: number, range?: RangeWords): number {
    const fw = this.frames[depth]!;
    const last = this.frameGens[depth]!;
    const task = this.signal.task;
    const gen = last < 0 ? this.openFirst(fw, range, task) : this.joinFrames.reopen(fw, (last + 1) & JOIN_GEN_MASK, range, task); // JOIN-J1
    this.frameGens[depth] = gen;
    rec[REC_ID] |= gen << ID_JOIN_GEN_SHIFT;
    return this.core.finder.push(rec) ? fw : -1;
  }

  /** This thread's first half at a depth: the frame may still be a dead predecessor's (join-frame.ts, open). Kept out of publish(), which stays small. */
  private openFirst(fw: number, range: RangeWords | undefined, task: number): number {
    return this.joinFrames.open(fw, range, task, this.releaseUnread);
  }

  /** A result a dead predecessor in this seat never read: free what holds it. */
  private readonly releaseUnread = (type: number, a: number): void => this.core.codec.release(type, a);

  /**
   * After the first half, take the second back: OURS if our record came back (the caller
   * runs it), else the thief's result (undefined when `discard`). Records above ours (the rest of
   * an injector batch, steals taken while a nested join waited) are work too: they run here.
   */
  private reclaim(rec: Int32Array, fw: number, discard: boolean): unknown {
    const back = this.backs[rec[REC_ID]! & ID_JOIN_DEPTH_MASK]!;
    while (this.core.finder.local.pop(back)) { // JOIN-J3
      if (back[REC_ID] === rec[REC_ID]) return OURS;
      this.runRecord(back);
    }
    return this.awaitFrame(fw, discard);
  }

  /**
   * The half was stolen: help with other work until the thief posts its result. With nothing
   * to take, spin briefly, then park as a sleeper of the pool (new work wakes us like any idle
   * thread; the thief wakes us with unpark when it posts the result).
   */
  private awaitFrame(fw: number, discard: boolean): unknown {
    const frames = this.joinFrames;
    const finder = this.core.finder;
    const other = new Int32Array(REC_WORDS);
    const settled = () => frames.outcome(fw) !== FrameOutcome.Open;
    try {
      for (;;) {
        const outcome = frames.outcome(fw);
        if (outcome === FrameOutcome.Orphaned) {
          const thief = frames.thief(fw);
          frames.consumed(fw);
          if (discard) return undefined; // the first half's error goes on
          throw new WorkerCrashedError(this.core.pool, thief, "it was running the other half of a join");
        }
        if (outcome !== FrameOutcome.Open) {
          const value = this.core.codec.take(...frames.result(fw));
          frames.consumed(fw);
          if (discard) return undefined;
          if (outcome === FrameOutcome.Failed) throw decodeThrown(value); // the other half's error, in its own class
          return value;
        }
        if (finder.tryNext(other)) {
          this.runRecord(other);
          continue;
        }
        if (this.spinFor(settled, other)) continue;
        if (finder.leaveSearch()) continue; // JOIN J4: parks as a sleeper, never as a searcher
        finder.parkUntil(settled);
      }
    } finally {
      finder.stopSearching();
    }
  }

  /** Spins up to AWAIT_SPIN_MS for the frame to settle or work to appear; true if either did. */
  private spinFor(settled: () => boolean, other: Int32Array): boolean {
    const until = performance.now() + AWAIT_SPIN_MS;
    for (let k = 1; ; k++) {
      if (settled()) return true;
      if (this.core.finder.tryNext(other)) {
        this.runRecord(other);
        return true;
      }
      if ((k & 15) === 0 && performance.now() >= until) return false;
    }
  }

  /** A half another thread pushed (join or range): run it and post the result in its owner's frame. */
  private runStolenHalf(rec: Int32Array): void {
    const id = rec[REC_ID]!;
    const owner = (id >>> ID_OWNER_SHIFT) & OWNER_MASK;
    const gen = (id >>> ID_JOIN_GEN_SHIFT) & JOIN_GEN_MASK;
    const fw = this.core.control.frameWord(owner, id & ID_JOIN_DEPTH_MASK);
    const frames = this.joinFrames;
    const me = this.core.index;
    const op = rec[REC_OP]!;
    const isRange = ((op >>> OP_KIND_SHIFT) & 3) === KIND_RANGE;
    const range = isRange ? frames.range(fw) : undefined; // read before the take, whose CAS vouches for them
    const task = frames.task(fw);
    if (!frames.take(fw, me, gen)) {
      // A half of an owner that died: its seat's next thread has reused the frame. Nobody waits for it.
      if (!isRange) this.core.codec.release((op >>> OP_TYPE_SHIFT) & OP_TYPE_MASK, rec[REC_A]!);
      return;
    }
    if (owner !== me) this.w[this.core.control.workerWord(me, WORKER_STOLEN)]++; // own counter: plain
    const h = this.core.handlerOf(rec);
    let failed = false;
    let result: unknown;
    const outer = this.signal.begin(task); // ctx.signal here is the owner's task's
    try {
      if (range) {
        const { grain, argType, argA, argB } = range;
        result = this.range(h, rec[REC_A]!, rec[REC_B]!, grain, argType, argA, argB, this.core.codec.peek(argType, argA, argB));
      } else {
        result = this.call(h, this.core.takeArgument(rec));
      }
    } catch (e) {
      failed = true;
      result = e;
    } finally {
      this.signal.end(outer);
    }
    if (!frames.claimWrite(fw, me, gen)) return; // its owner died meanwhile: nobody reads this outcome
    try {
      if (failed) throw result;
      this.core.codec.encode(result, "result", this.core.handlerNames[h], owner);
    } catch (e) {
      failed = true;
      this.core.codec.encode(encodeThrown(e).wire, "error", "", owner);
    }
    const out = this.core.codec.out;
    frames.settle(fw, gen, failed, out[0]!, out[1]!, out[2]!);
    if (owner !== me) this.core.finder.idle.unpark(owner); // a targeted unpark, after the store
  }

  /** parallelFor root: [start, end, grain, argType, argA, argB]; the argument is freed once every half is done. */
  private runRangeTask(h: number, d: number[]): unknown {
    const [start, end, grain, argType, argA, argB] = d as [number, number, number, number, number, number];
    try {
      return this.range(h, start, end, grain, argType, argA, argB, this.core.codec.peek(argType, argA, argB));
    } finally {
      this.core.codec.release(argType, argA);
    }
  }

  /** Splits [s, e) in halves until `grain`, each right half stealable; sums numeric kernel results. */
  private range(h: number, s: number, e: number, grain: number, argType: number, argA: number, argB: number, arg: unknown): unknown {
    const depth = this.depth;
    if (e - s <= grain || depth >= this.core.control.joinDepth) return this.kernel(h, s, e, arg);
    const mid = s + Math.floor((e - s) / 2);
    const fw = this.frames[depth]!;
    const rec = this.records[depth]!;
    rec[REC_ID] = ID_JOIN_BIT | (this.core.index << ID_OWNER_SHIFT) | depth;
    rec[REC_OP] = h | (KIND_RANGE << OP_KIND_SHIFT);
    rec[REC_A] = mid;
    rec[REC_B] = e;
    if (this.publish(rec, depth, { grain, argType, argA, argB }) < 0) return this.kernel(h, s, e, arg);
    this.depth = depth + 1;
    try {
      let left: unknown;
      try {
        left = this.range(h, s, mid, grain, argType, argA, argB, arg);
      } catch (err) {
        this.reclaim(rec, fw, true);
        throw err;
      }
      let right = this.reclaim(rec, fw, false);
      if (right === OURS) right = this.range(h, mid, e, grain, argType, argA, argB, arg);
      return combine(left, right, this.core.handlerNames[h]!);
    } finally {
      this.depth = depth;
    }
  }

  private kernel(h: number, s: number, e: number, arg: unknown): unknown {
    const r = this.core.handlers[h]!(s, e, arg, this.ctx);
    if (r !== undefined && typeof r !== "number") {
      throw new TypeError(`parallelFor kernel "${this.core.handlerNames[h]}" returned a ${typeof r}; return a number (results are summed) or nothing`);
    }
    return r;
  }
}

function combine(x: unknown, y: unknown, kernel: string): unknown {
  if (x === undefined) return y;
  if (y === undefined) return x;
  if (typeof x === "number" && typeof y === "number") return x + y;
  throw new TypeError(`parallelFor kernel "${kernel}" results cannot be combined`);
}
