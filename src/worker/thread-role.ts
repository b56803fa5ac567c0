/**
 * Worker side: what a pool thread's scaling role changes in its loop (README, "Adaptive scaling").
 * - static: parks and wakes with the pool's producers, forever.
 * - dynamic: like static while it finds work; after `idleMs` (100 ms) without any it goes behind
 *   its manager gate (manager-gate.ts), where only the pool manager lets it out again.
 * - standalone: exits after `idleMs` (standalone_idle_ms) without work.
 * A thread only leaves the park protocol when it found no work: its own deque is empty (only it
 * pushes there) and it runs no task, so nothing it held is lost or run twice (PROTOCOL.md,
 * "Manager gate").
 */
import type { ThreadRole } from "../common/pool-setup.ts";
import { GateExit, ManagerGate } from "../shm/manager-gate.ts";
import type { SharedRef } from "../shm/layout.ts";

/** What the loop does after finding no work for a while. */
export const IDLE_SERVE = 0;
export const IDLE_RETIRE = 1;
/** Still behind the gate after `maxWaitMs`: do upkeep (mail, finalizers), then rest again. */
export const IDLE_GATED = 2;
export type IdleAction = typeof IDLE_SERVE | typeof IDLE_RETIRE | typeof IDLE_GATED;

export class RoleLoop {
  private readonly gate: ManagerGate | undefined;
  /** When the thread last worked (ms); NaN: it worked, then parked `pendingParkMs`, not read yet. */
  private lastWork = performance.now();
  /** Worked since the last parkMs(): the idle clock restarts at the next park. */
  private fresh = false;
  private pendingParkMs = 0;
  /** True while this (dynamic) thread rests behind its gate; a dynamic thread starts there. */
  private gated = false;
  private startsGated: boolean;

  constructor(
    readonly role: ThreadRole,
    private readonly index: number,
    /** Idle time before a dynamic thread goes behind its gate or a standalone thread exits, ms. */
    private readonly idleMs: number,
    idle: SharedRef,
  ) {
    this.gate = role === "dynamic" ? ManagerGate.attach(idle) : undefined;
    this.startsGated = role === "dynamic"; // only the pool manager lets a dynamic thread in
  }

  /** True while the thread rests behind its gate: it calls rest/restAsync instead of looking for work. */
  get resting(): boolean {
    return this.gated || this.startsGated;
  }

  /**
   * The thread found work: its idle clock restarts. No clock read here (it runs per task: a read
   * per task cost ~12% of tiny-task throughput): the clock is read only when a park timed out.
   */
  worked(): void {
    this.fresh = true;
  }

  /** How long the next park may last (ms), at most `cap`: a static thread parks for good. */
  parkMs(cap = Infinity): number {
    if (this.role === "static") return cap;
    if (this.fresh) {
      // The idle clock starts about now: a park that times out read it back (idleSince).
      this.fresh = false;
      this.lastWork = NaN;
      this.pendingParkMs = Math.max(1, Math.min(cap, this.idleMs));
      return this.pendingParkMs;
    }
    return Math.max(1, Math.min(cap, this.idleSince() + this.idleMs - performance.now()));
  }

  /** True once the thread has found no work for idleMs (never for static threads). */
  idleLongEnough(): boolean {
    return this.role !== "static" && performance.now() - this.idleSince() >= this.idleMs;
  }

  /** When the idle time began: a park of pendingParkMs that found nothing started then (give or take the searcher spin). */
  private idleSince(): number {
    if (Number.isNaN(this.lastWork)) this.lastWork = performance.now() - this.pendingParkMs - 0.001; // (- 1 us: float rounding must not make a full park look short)
    return this.lastWork;
  }

  /**
   * After idleMs without work (or while resting), compute threads: a standalone thread retires; a
   * dynamic one waits behind its gate, at most `maxWaitMs` at a time.
   */
  rest(maxWaitMs = Infinity): IdleAction {
    if (this.role === "standalone") return IDLE_RETIRE;
    if (!this.enter()) return this.leave();
    return this.gate!.wait(this.index, maxWaitMs) === GateExit.TimedOut ? IDLE_GATED : this.leave();
  }

  /** Like rest, for async threads (the event loop keeps running behind the gate). */
  async restAsync(maxWaitMs = Infinity): Promise<IdleAction> {
    if (this.role === "standalone") return IDLE_RETIRE;
    if (!this.enter()) return this.leave();
    return (await this.gate!.waitAsync(this.index, maxWaitMs)) === GateExit.TimedOut ? IDLE_GATED : this.leave();
  }

  /**
   * Closes the gate when a rest begins; true to wait. A rest that goes on (after upkeep) only looks:
   * the manager (or shutdown) may have opened the gate meanwhile, and closing it again would lose that.
   */
  private enter(): boolean {
    if (this.gated) return this.gate!.isClosed(this.index);
    this.startsGated = false;
    this.gated = true;
    return !this.gate!.close(this.index);
  }

  private leave(): IdleAction {
    this.gated = false;
    this.worked();
    return IDLE_SERVE;
  }
}
