/**
 * A pool's control block (one SharedArrayBuffer, both sides): the main thread's completion
 * doorbell, one line per worker, one state word per task slot, and the join frames compute
 * workers use for halves other workers stole. Word layout: layout.ts ("Pool control block");
 * protocol: PROTOCOL.md ("Tasks and completions").
 */
import { InvalidArgumentError } from "../errors.ts";
import { Doorbell } from "../shm/doorbell.ts";
import { JoinFrames } from "./join-frame.ts";
import { TaskStates } from "./task-state.ts";
import {
  HDR_MAGIC, LINE, MAX_JOIN_DEPTH, POOL_JOIN_DEPTH, POOL_MAGIC,
  POOL_ARRIVALS, POOL_MAIN_HOT, POOL_MAIN_MAIL, POOL_SLOTS, POOL_SPAWNS_WANTED, POOL_WORKERS, POOL_WORKER_INFO, WORKER_MAIL,
  WORKER_ALIVE, WORKER_SEARCHING, WORKER_TID, attachHeader, poolControlBytes, poolJoinFrameWord, poolTaskStatesWord,
} from "../shm/layout.ts";

export class PoolControl {
  readonly buffer: SharedArrayBuffer;
  readonly w: Int32Array;
  /** The main thread's doorbell (src/shm/doorbell.ts). */
  readonly doorbell: Doorbell;
  /** The task slots' state words (src/common/task-state.ts). */
  readonly states: TaskStates;
  /** The compute threads' join frames (src/common/join-frame.ts). */
  readonly frames: JoinFrames;
  readonly workers: number;
  readonly slots: number;
  readonly joinDepth: number;
  private readonly statesAt: number;

  private constructor(buffer: SharedArrayBuffer) {
    const header = attachHeader("pool control block", { buffer, byteOffset: 0 }, POOL_MAGIC);
    this.buffer = buffer;
    this.workers = header[POOL_WORKERS]!;
    this.slots = header[POOL_SLOTS]!;
    this.joinDepth = header[POOL_JOIN_DEPTH]!;
    this.w = new Int32Array(buffer);
    this.doorbell = new Doorbell(this.w);
    this.states = new TaskStates(this.w, (slot) => this.stateWord(slot));
    this.frames = new JoinFrames(this.w);
    this.statesAt = poolTaskStatesWord(this.workers);
  }

  static allocate(workers: number, slots: number, joinDepth: number): PoolControl {
    if (!Number.isInteger(joinDepth) || joinDepth < 0 || joinDepth > MAX_JOIN_DEPTH) {
      throw new InvalidArgumentError("joinDepth", `must be an integer in 0..${MAX_JOIN_DEPTH}, got ${joinDepth}`);
    }
    const buffer = new SharedArrayBuffer(poolControlBytes(workers, slots, joinDepth));
    const w = new Int32Array(buffer);
    w[POOL_WORKERS] = workers;
    w[POOL_SLOTS] = slots;
    w[POOL_JOIN_DEPTH] = joinDepth;
    Atomics.store(w, HDR_MAGIC, POOL_MAGIC);
    return new PoolControl(buffer);
  }

  static attach(buffer: SharedArrayBuffer): PoolControl {
    return new PoolControl(buffer);
  }

  /** Word index of a task slot's state word. */
  stateWord(slot: number): number {
    return this.statesAt + slot;
  }

  /** Word index of field `field` (WORKER_*) of worker i's line. */
  workerWord(i: number, field: number): number {
    return POOL_WORKER_INFO + i * LINE + field;
  }

  /** Word index of the join frame of (worker, depth). */
  frameWord(worker: number, depth: number): number {
    return poolJoinFrameWord(this.workers, this.slots, this.joinDepth, worker, depth);
  }

  /** Main (crash repair), thread `thief` died: orphans every frame it had taken. */
  orphanFramesOf(thief: number): void {
    for (let owner = 0; owner < this.workers; owner++) {
      for (let d = 0; d < this.joinDepth; d++) this.frames.orphan(this.frameWord(owner, d), thief);
    }
  }

  /**
   * Worker side, after pushing a completion: ring only if the main thread said it sleeps.
   * Returns true when it rang a main thread that is not in a tight submit loop: the caller should
   * then park rather than spin (the woken main thread wants the core).
   */
  ringMain(): boolean {
    return this.doorbell.ring() && Atomics.load(this.w, POOL_MAIN_HOT) === 0;
  }

  /** Main (the pump): 1 while it submits within 50 us of receiving completions (workers then spin, not park). */
  setMainHot(hot: boolean): void {
    Atomics.store(this.w, POOL_MAIN_HOT, hot ? 1 : 0);
  }

  // Mail flags (PROTOCOL.md "Mail", M2): raised after posting, taken at the receiver's next look.

  /** Worker: it posted mail the main thread must relay or read; the caller then rings. */
  raiseMainMail(): void {
    Atomics.store(this.w, POOL_MAIN_MAIL, 1);
  }

  /** Main: some worker mailed it since the last look (the flag stays up). */
  mainMailRaised(): boolean {
    return Atomics.load(this.w, POOL_MAIN_MAIL) !== 0;
  }

  /** Main: true (and cleared) when some worker mailed it since the last look. */
  takeMainMail(): boolean {
    return this.mainMailRaised() && Atomics.exchange(this.w, POOL_MAIN_MAIL, 0) !== 0;
  }

  /** Main: mail for worker i waits on its port. */
  raiseWorkerMail(i: number): void {
    Atomics.store(this.w, this.workerWord(i, WORKER_MAIL), 1);
  }

  /** Worker i: true (and cleared) when the main thread mailed it since the last look. */
  takeWorkerMail(i: number): boolean {
    const word = this.workerWord(i, WORKER_MAIL);
    return Atomics.load(this.w, word) !== 0 && Atomics.exchange(this.w, word, 0) !== 0;
  }

  // Scaling words (PROTOCOL.md "Manager gate and scaling", Counters and Spawn).

  /** Main, once per published batch: tasks for the pool manager's frequency detector. */
  countArrivals(n: number): void {
    Atomics.add(this.w, POOL_ARRIVALS, n);
  }

  /** Pool manager, each tick: the tasks published since its last tick. */
  takeArrivals(): number {
    return Atomics.exchange(this.w, POOL_ARRIVALS, 0);
  }

  /** Pool manager: asks the main thread for `n` more standalone threads (it then posts one message). */
  askSpawns(n: number): void {
    Atomics.add(this.w, POOL_SPAWNS_WANTED, n);
  }

  /** Standalone threads asked for and not yet started or given up (the manager counts them as threads it has). */
  spawnsWanted(): number {
    return Math.max(0, Atomics.load(this.w, POOL_SPAWNS_WANTED));
  }

  /** Main: one start ended (ready, failed, or still loading after its wait): one ask answered. */
  spawnAnswered(): void {
    Atomics.sub(this.w, POOL_SPAWNS_WANTED, 1);
  }

  /** Main: none can start now; takes back the `seen` asks (the manager asks again while the need lasts). */
  dropSpawns(seen: number): void {
    Atomics.sub(this.w, POOL_SPAWNS_WANTED, seen);
  }

  /** Worker side: mirror of the searcher slot, so the main thread can release it if this worker dies. */
  setSearching(i: number, on: boolean): void {
    Atomics.store(this.w, this.workerWord(i, WORKER_SEARCHING), on ? 1 : 0);
  }

  /** Main, after worker i died: takes its searcher mirror (true when it held a slot to give back). */
  takeSearching(i: number): boolean {
    return Atomics.exchange(this.w, this.workerWord(i, WORKER_SEARCHING), 0) === 1;
  }

  // Seat liveness (WORKER_ALIVE): 1 from the thread's ready handshake until it retires or dies.

  /** Worker i, before it says ready: its tid, then alive. */
  seatReady(i: number, tid: number): void {
    Atomics.store(this.w, this.workerWord(i, WORKER_TID), tid);
    Atomics.store(this.w, this.workerWord(i, WORKER_ALIVE), 1);
  }

  /** Worker i retiring, or main after it died: the pool manager stops counting it. */
  seatGone(i: number): void {
    Atomics.store(this.w, this.workerWord(i, WORKER_ALIVE), 0);
  }

  seatAlive(i: number): boolean {
    return Atomics.load(this.w, this.workerWord(i, WORKER_ALIVE)) === 1;
  }
}
