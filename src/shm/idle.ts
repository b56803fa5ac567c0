/**
 * Idle coordination for one pool: who is searching for work, who is parked, and how a producer
 * wakes exactly one parked worker without a lost wake-up. In the spirit of tokio's
 * `scheduler/multi_thread/idle.rs` and rayon-core's sleep module.
 *
 * - At most `maxSearching` (max(1, workers/2)) workers spin looking for work at once, so spinning
 *   threads never outnumber the cores the pool was given.
 * - A producer notifies only when no worker is searching and some worker announced that it parks;
 *   the notified worker wakes already counted as searching, so a burst of pushes wakes one worker,
 *   which wakes the next when it finds work and more is queued (the "last searcher" rule).
 * - Each worker parks on its own word with `Atomics.wait`. A static worker's park has no timeout (a
 *   lost wake-up would hang it, so the tests would see it); dynamic and standalone workers pass
 *   their role's idle time, and a thread that owns shared buffers wakes now and then to release
 *   them. An idle pool burns no CPU.
 *
 * Concurrency contract: `notifyOne`, `shutdown` and the counters: any thread. `park`, `parkAsync`,
 * `tryStartSearching`, `stopSearching`: only worker `i` itself for its own index.
 * Protocol and proof: PROTOCOL.md, section "Park and unpark".
 */
import { InvalidArgumentError } from "../errors.ts";
import { ManagerGate } from "./manager-gate.ts";
import {
  HDR_MAGIC, IDLE_MAGIC, IDLE_NUM_WORKERS, IDLE_PARK_WORDS, IDLE_SEARCHING, IDLE_SHUTDOWN, IDLE_SLEEPING,
  LINE, PARK_AWAKE, PARK_NOTIFIED, PARK_PARKED, attachHeader, checkRoom, idleBytes, type SharedRef,
} from "./layout.ts";

/** How a park ended. */
export const Wake = {
  /** A producer woke this worker and counted it as searching: it must call stopSearching later. */
  Notified: 0,
  /** Work or shutdown appeared before sleeping; the worker is not counted as searching. */
  Cancelled: 1,
  /** The pool shuts down. */
  Shutdown: 2,
  /** The timeout passed with no notification. */
  TimedOut: 3,
} as const;
export type Wake = (typeof Wake)[keyof typeof Wake];

/** Answers "might there be work?" for the recheck before sleeping; must see every queue producers use. */
export type WorkProbe = () => boolean;

export const MAX_WORKERS = 4096;

export class IdleState {
  readonly ref: SharedRef;
  readonly workers: number;
  readonly maxSearching: number;
  private readonly w: Int32Array;
  /** The dynamic threads' gate words beside the park words (manager-gate.ts owns them). */
  private readonly gates: ManagerGate;

  private constructor(ref: SharedRef, private readonly hasWork: WorkProbe) {
    const header = attachHeader("idle state", ref, IDLE_MAGIC);
    this.ref = { buffer: ref.buffer, byteOffset: ref.byteOffset };
    this.workers = header[IDLE_NUM_WORKERS]!;
    this.maxSearching = Math.max(1, this.workers >> 1);
    this.w = new Int32Array(ref.buffer, ref.byteOffset, idleBytes(this.workers) / 4);
    this.gates = ManagerGate.attach(ref);
  }

  static bytesFor(workers: number): number {
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
      throw new InvalidArgumentError("idle.workers", `must be an integer in 1..${MAX_WORKERS}, got ${workers}`);
    }
    return idleBytes(workers);
  }

  static allocate(workers: number, hasWork: WorkProbe): IdleState {
    const buffer = new SharedArrayBuffer(IdleState.bytesFor(workers));
    return IdleState.init({ buffer, byteOffset: 0 }, workers, hasWork);
  }

  static init(ref: SharedRef, workers: number, hasWork: WorkProbe): IdleState {
    const bytes = IdleState.bytesFor(workers);
    checkRoom("idle", ref.buffer, ref.byteOffset, bytes);
    const w = new Int32Array(ref.buffer, ref.byteOffset, bytes / 4);
    w[IDLE_NUM_WORKERS] = workers;
    Atomics.store(w, HDR_MAGIC, IDLE_MAGIC);
    return new IdleState(ref, hasWork);
  }

  /** Wraps the idle state another thread laid out; `hasWork` probes this thread's views of the queues. */
  static attach(ref: SharedRef, hasWork: WorkProbe): IdleState {
    return new IdleState(ref, hasWork);
  }

  // ---- any thread ----

  /**
   * Producer side, after publishing work: wakes one parked worker unless a worker is searching
   * (it will find the work) or none is parked (every worker looks again before it parks).
   * Returns true when it woke a worker.
   */
  notifyOne(): boolean {
    const w = this.w;
    for (;;) {
      // PARK-N1, PARK-N2: a searcher will find the work; an unparked worker rechecks before sleeping.
      if (Atomics.load(w, IDLE_SEARCHING) !== 0 || Atomics.load(w, IDLE_SLEEPING) === 0) return false;
      // PARK-N3: take the searcher slot for the worker we are about to wake.
      if (Atomics.compareExchange(w, IDLE_SEARCHING, 0, 1) !== 0) return false;
      for (let i = 0; i < this.workers; i++) {
        const word = IDLE_PARK_WORDS + i * LINE;
        if (Atomics.compareExchange(w, word, PARK_PARKED, PARK_NOTIFIED) === PARK_PARKED) {
          Atomics.sub(w, IDLE_SLEEPING, 1); // PARK-N4: whoever moves a worker out of PARKED uncounts it
          Atomics.notify(w, word, 1);
          return true;
        }
      }
      // PARK-N5: the sleeper we counted cancelled meanwhile. Give the slot back with the last searcher's
      // duty: a producer may have skipped its notify because it saw our slot.
      if (Atomics.sub(w, IDLE_SEARCHING, 1) !== 1 || !this.hasWork()) return false;
    }
  }

  /**
   * PARK-U1, any thread: wakes worker i if it is parked, without making it a searcher (PARK-R2 as for
   * shutdown). For a condition only that worker waits for: store the condition first, then unpark.
   */
  unpark(i: number): boolean {
    const w = this.w;
    const word = IDLE_PARK_WORDS + i * LINE;
    if (Atomics.load(w, word) !== PARK_PARKED || Atomics.compareExchange(w, word, PARK_PARKED, PARK_AWAKE) !== PARK_PARKED) {
      return false;
    }
    Atomics.sub(w, IDLE_SLEEPING, 1);
    Atomics.notify(w, word, 1);
    return true;
  }

  /** Marks the pool shut down and wakes every parked worker, and every one behind its manager gate. */
  shutdown(): void {
    const w = this.w;
    Atomics.store(w, IDLE_SHUTDOWN, 1);
    for (let i = 0; i < this.workers; i++) {
      this.unpark(i); // woken workers see SHUTDOWN
      this.gates.openForShutdown(i);
    }
  }

  /**
   * PARK-R4, any thread, for worker i that died: takes it out of the counts as if it had woken and
   * stopped searching (`wasSearching` from its mirror word), so producers do not wait on a searcher
   * or sleeper that will never run. Then notifies if work is visible (the last-searcher duty).
   */
  releaseDeadWorker(i: number, wasSearching: boolean): void {
    const w = this.w;
    const word = IDLE_PARK_WORDS + i * LINE;
    const state = Atomics.exchange(w, word, PARK_AWAKE);
    if (state === PARK_PARKED) Atomics.sub(w, IDLE_SLEEPING, 1);
    let searchers = (state === PARK_NOTIFIED ? 1 : 0) + (wasSearching ? 1 : 0);
    let last = false;
    while (searchers-- > 0) last = Atomics.sub(w, IDLE_SEARCHING, 1) === 1 || last;
    if (last && this.hasWork()) this.notifyOne();
  }

  isShutdown(): boolean {
    return Atomics.load(this.w, IDLE_SHUTDOWN) !== 0;
  }

  searching(): number {
    return Atomics.load(this.w, IDLE_SEARCHING);
  }

  sleeping(): number {
    return Atomics.load(this.w, IDLE_SLEEPING);
  }

  /** True while worker i is parked (for thread states in metrics). */
  isParked(i: number): boolean {
    return Atomics.load(this.w, IDLE_PARK_WORDS + i * LINE) === PARK_PARKED;
  }

  // ---- worker i only ----

  /** Becomes a searcher if fewer than maxSearching workers search. */
  tryStartSearching(): boolean {
    const w = this.w;
    let n = Atomics.load(w, IDLE_SEARCHING);
    while (n < this.maxSearching) {
      const seen = Atomics.compareExchange(w, IDLE_SEARCHING, n, n + 1);
      if (seen === n) return true;
      n = seen;
    }
    return false;
  }

  /**
   * Stops searching. Returns true when this was the last searcher and work is still visible: the
   * caller must then either take that work itself or call notifyOne (the last searcher's duty in PROTOCOL.md).
   */
  stopSearching(): boolean {
    return Atomics.sub(this.w, IDLE_SEARCHING, 1) === 1 && this.hasWork();
  }

  /**
   * Parks worker i until notified, unparked, shutdown, or `timeoutMs`. See PROTOCOL.md, "Park and unpark".
   * `until`, when given, is looked at with the queues in the last look before sleeping: a condition another thread makes true
   * and then calls `unpark(i)` for (a join half finishing).
   */
  park(i: number, timeoutMs = Infinity, until?: () => boolean): Wake {
    const early = this.announcePark(i, until);
    if (early !== undefined) return early;
    const word = IDLE_PARK_WORDS + i * LINE;
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    while (Atomics.load(this.w, word) === PARK_PARKED) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      Atomics.wait(this.w, word, PARK_PARKED, left); // PARK-P4
    }
    return this.finishPark(i);
  }

  /** Like park, but waits with `Atomics.waitAsync` so the worker's event loop keeps running. */
  async parkAsync(i: number, timeoutMs = Infinity): Promise<Wake> {
    const early = this.announcePark(i);
    if (early !== undefined) return early;
    const word = IDLE_PARK_WORDS + i * LINE;
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
    while (Atomics.load(this.w, word) === PARK_PARKED) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const r = Atomics.waitAsync(this.w, word, PARK_PARKED, left);
      if (r.async) await r.value;
    }
    return this.finishPark(i);
  }

  /** Announce the park, then look once more; returns how the park ended if it need not sleep. */
  private announcePark(i: number, until?: () => boolean): Wake | undefined {
    const w = this.w;
    const word = IDLE_PARK_WORDS + i * LINE;
    Atomics.store(w, word, PARK_PARKED); // PARK-P1
    Atomics.add(w, IDLE_SLEEPING, 1); // PARK-P2
    if (!this.hasWork() && !this.isShutdown() && !until?.()) return undefined; // PARK-P3
    if (Atomics.compareExchange(w, word, PARK_PARKED, PARK_AWAKE) === PARK_PARKED) {
      Atomics.sub(w, IDLE_SLEEPING, 1);
      return this.isShutdown() ? Wake.Shutdown : Wake.Cancelled;
    }
    return this.finishPark(i); // a notifier or shutdown got here first
  }

  /** PARK-P5: leaves the park word AWAKE and says why the worker is up. */
  private finishPark(i: number): Wake {
    const w = this.w;
    const word = IDLE_PARK_WORDS + i * LINE;
    const state = Atomics.compareExchange(w, word, PARK_PARKED, PARK_AWAKE);
    if (state === PARK_PARKED) {
      Atomics.sub(w, IDLE_SLEEPING, 1);
      return this.isShutdown() ? Wake.Shutdown : Wake.TimedOut;
    }
    Atomics.store(w, word, PARK_AWAKE);
    if (state === PARK_NOTIFIED) return Wake.Notified;
    // shutdown() or unpark() moved us PARKED -> AWAKE: not a searcher; look again
    return this.isShutdown() ? Wake.Shutdown : Wake.Cancelled;
  }
}
