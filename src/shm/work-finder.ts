/**
 * The worker side of a pool's shared-memory core: where worker `index` looks for its next task
 * record, in the order tokio and rayon use: its own deque (oldest first, so injected tasks start in
 * submission order), its inbox (records only it may run: PROTOCOL.md, "Inboxes"), the injector (a
 * batch moves to its own deque, where others can steal it), the other workers' deques (steal half,
 * FIFO), a bounded spin as a searcher, then park. Join halves are taken back newest first by the
 * join (compute-runtime.ts), which keeps fork-join locality.
 *
 * Concurrency contract: one WorkFinder per worker thread, used only by that thread.
 * The searching/parking rules are in idle.ts and PROTOCOL.md ("Finding work").
 */
import { POOL_DEFAULTS } from "../config/defaults.ts";
import { DequeOwner, DequeStealer } from "./deque.ts";
import { IdleState, Wake } from "./idle.ts";
import { Injector } from "./injector.ts";
import type { SharedRef } from "./layout.ts";

/** Where a pool's queues live; what a worker receives once at start. */
export interface PoolQueueRefs {
  injector: SharedRef;
  /** One deque per worker, by worker index. */
  deques: SharedRef[];
  /** One inbox per worker, by worker index: records only that worker may run. */
  inboxes: SharedRef[];
  idle: SharedRef;
}

export interface WorkFinderOptions {
  /** How long a searcher spins before parking, in microseconds (docs/bun-platform.md: ~5-50 us pays). */
  spinMicros?: number;
  /** Most records taken from the injector or a victim at once. */
  batch?: number;
  /** Told whenever this worker takes or gives up a searcher slot (a mirror for crash repair). */
  onSearching?: (searching: boolean) => void;
}

export const NEXT_FOUND = 0;
export const NEXT_CLOSED = 1;
export const NEXT_IDLE = 2;
export type Next = typeof NEXT_FOUND | typeof NEXT_CLOSED | typeof NEXT_IDLE;

const FOUND = 0;
const CLOSED = 1;
const PARK = 2;
type Round = typeof FOUND | typeof CLOSED | typeof PARK;

export class WorkFinder {
  readonly index: number;
  readonly injector: Injector;
  readonly local: DequeOwner;
  /** Records addressed to this worker alone (their argument was mailed to it); never stolen. */
  readonly inbox: Injector;
  readonly idle: IdleState;
  private readonly victims: DequeStealer[];
  private readonly rw: number;
  private readonly batch: number;
  private readonly spinMs: number;
  private readonly scratch: Int32Array;
  private searchingNow = false;
  private skipSpin = false;
  private nextVictim = 0;
  private readonly onSearching?: (searching: boolean) => void;

  constructor(index: number, refs: PoolQueueRefs, options: WorkFinderOptions = {}) {
    this.index = index;
    this.injector = Injector.attach(refs.injector);
    this.local = new DequeOwner(refs.deques[index]!, this.injector);
    this.inbox = Injector.attach(refs.inboxes[index]!);
    this.victims = refs.deques.filter((_, i) => i !== index).map((r) => new DequeStealer(r));
    this.idle = IdleState.attach(refs.idle, () => this.hasWork());
    this.rw = this.injector.recordWords;
    this.batch = Math.max(1, Math.min(options.batch ?? 16, this.local.capacity >> 1));
    this.spinMs = (options.spinMicros ?? POOL_DEFAULTS.spinMicros) / 1000;
    this.scratch = new Int32Array(this.batch * this.rw);
    this.nextVictim = index % Math.max(1, this.victims.length);
    this.onSearching = options.onSearching;
  }

  private get searching(): boolean {
    return this.searchingNow;
  }

  private set searching(on: boolean) {
    this.searchingNow = on;
    this.onSearching?.(on);
  }

  /**
   * Pushes a record on this worker's own deque (spilling half to the injector when full) and wakes
   * a parked worker if none is searching. False only when deque and injector are both full.
   */
  push(src: ArrayLike<number>, srcOffset = 0): boolean {
    if (!this.local.push(src, srcOffset)) return false;
    this.idle.notifyOne();
    return true;
  }

  /**
   * Waits (blocking the thread) for the next record: NEXT_FOUND (in `dst`), NEXT_CLOSED once the
   * pool shuts down and nothing is left, or NEXT_IDLE after parking `parkMs` with nothing found.
   */
  next(dst: Int32Array, parkMs = Infinity): Next {
    for (;;) {
      const r = this.round(dst);
      if (r !== PARK) return r === FOUND ? NEXT_FOUND : NEXT_CLOSED;
      const how = this.idle.park(this.index, parkMs);
      if (this.idleAfter(how)) return NEXT_IDLE;
    }
  }

  /** Like next, but parks with Atomics.waitAsync so the thread's event loop keeps running. */
  async nextAsync(dst: Int32Array, parkMs = Infinity): Promise<Next> {
    for (;;) {
      const r = this.round(dst);
      if (r !== PARK) return r === FOUND ? NEXT_FOUND : NEXT_CLOSED;
      const how = await this.idle.parkAsync(this.index, parkMs);
      if (this.idleAfter(how)) return NEXT_IDLE;
    }
  }

  /**
   * Skips the searcher spin the next time this worker runs out of work: it parks at once (still
   * after the last look before sleeping). For a worker that just woke a sleeping thread it serves: spinning would
   * hold a core that thread is about to want (PROTOCOL.md, "Finding work").
   */
  parkSoon(): void {
    this.skipSpin = true;
  }

  /** One look at every source, without spinning or parking. */
  tryNext(dst: Int32Array): boolean {
    if (!this.findOnce(dst)) return false;
    this.found();
    return true;
  }

  /**
   * Parks until `until()` holds (another thread makes it true, then calls idle.unpark(index)),
   * new work appears, or shutdown. The caller looks at both afterwards. A join waiting for a stolen
   * half sleeps here, visible to producers as a sleeper, so new work wakes it too.
   */
  parkUntil(until: () => boolean): void {
    this.idleAfter(this.idle.park(this.index, Infinity, until)); // no time-out: never idle
  }

  /**
   * Before parkUntil: gives back a searcher slot this worker holds (a notify made it a searcher and
   * it found nothing). True when it was the last searcher and work is visible: take it, do not park
   * (PARK S2). A join that parked as a searcher would keep producers from waking anyone.
   */
  leaveSearch(): boolean {
    if (!this.searching) return false;
    this.searching = false;
    return this.idle.stopSearching();
  }

  /** Gives back a searcher slot this worker holds (after parkUntil woke it as a searcher and it found nothing). */
  stopSearching(): void {
    if (!this.searching) return;
    this.searching = false;
    if (this.idle.stopSearching()) this.idle.notifyOne();
  }

  /** Anything visible in the injector, any deque or this worker's inbox: the last look before parking. */
  hasWork(): boolean {
    // INBOX-W1: the last look sees this worker's inbox, so a record queued there before the look is found.
    if (this.injector.hasItems() || this.local.size() > 0 || this.inbox.hasItems()) return true;
    for (let i = 0; i < this.victims.length; i++) if (this.victims[i]!.size() > 0) return true;
    return false;
  }

  private round(dst: Int32Array): Round {
    for (;;) {
      if (this.findOnce(dst)) return this.found();
      if (this.idle.isShutdown()) return this.closed();
      if (this.skipSpin && !this.searching) {
        this.skipSpin = false;
        return PARK;
      }
      if (!this.searching && !this.idle.tryStartSearching()) return PARK;
      this.searching = true;
      if (this.spin(dst)) return this.found();
      this.searching = false;
      // PARK-S2: the last searcher to leave with work visible takes it itself instead of parking.
      if (!this.idle.stopSearching()) return PARK;
    }
  }

  /**
   * After a park: a notified worker is a searcher (the notifier counted it). True when the park
   * timed out, the only park after which a thread may leave the pool (retire, or its gate).
   */
  private idleAfter(how: Wake): boolean {
    if (how === Wake.Notified) this.searching = true;
    return how === Wake.TimedOut; // RETIRE-X1
  }

  private found(): Round {
    this.skipSpin = false;
    if (this.searching) {
      this.searching = false;
      // PARK-S1: the last searcher that finds work, with more visible, wakes the next worker.
      if (this.idle.stopSearching()) this.idle.notifyOne();
    }
    return FOUND;
  }

  private closed(): Round {
    if (this.searching) {
      this.searching = false;
      this.idle.stopSearching();
    }
    return CLOSED;
  }

  private spin(dst: Int32Array): boolean {
    const until = performance.now() + this.spinMs;
    for (let k = 1; ; k++) {
      if (this.findOnce(dst)) return true;
      // Time is read every 16 rounds: each round already does several Atomics loads.
      if ((k & 15) === 0 && (performance.now() >= until || this.idle.isShutdown())) return false;
    }
  }

  private findOnce(dst: Int32Array): boolean {
    // Oldest first: what lies here between tasks is the rest of an injector batch or a steal, in
    // submission order (join halves are taken back with pop by the join itself).
    if (this.local.takeOldest(dst)) return true;
    if (this.inbox.pop(dst)) return true; // INBOX-W2: only this worker takes from its inbox (and crash repair, once it died)
    const n = this.injector.popBatch(this.scratch, 0, this.batch);
    if (n > 0) return this.takeBatch(dst, n);
    const victims = this.victims;
    for (let j = 0; j < victims.length; j++) {
      const v = victims[this.nextVictim]!;
      this.nextVictim = this.nextVictim + 1 === victims.length ? 0 : this.nextVictim + 1;
      const m = v.stealBatch(this.scratch, 0, this.batch);
      if (m > 0) return this.takeBatch(dst, m);
    }
    return false;
  }

  /** Keeps the first record of a batch and queues the rest locally, where idle workers may steal them. */
  private takeBatch(dst: Int32Array, n: number): boolean {
    const rw = this.rw;
    for (let i = 0; i < rw; i++) dst[i] = this.scratch[i]!;
    if (n > 1) {
      for (let k = 1; k < n; k++) {
        // The deque is empty here (findOnce popped it dry) and batch <= capacity/2, so this fits.
        if (!this.local.push(this.scratch, k * rw)) throw new Error("work-finder: local deque refused a batch that fits");
      }
      this.idle.notifyOne();
    }
    return true;
  }
}
