/**
 * Main thread: the seats of a pool by scaling role, and the standalone threads the pool manager asks
 * for. Seats [0, static) are static, [static, static + dynamic) dynamic, the rest standalone (a
 * fixed pool: every seat static). Standalone threads start here, one at a time (Bun has crashed
 * starting many Workers at once under load: docs/bun-platform.md), in a free standalone seat; a thread that
 * retires (idle for standalone_idle_ms) leaves its seat free again.
 */
import { within } from "../common/within.ts";
import type { ThreadRole } from "../common/pool-setup.ts";
import { dynamicSeats, roleOfSeat, roleTag } from "../common/thread-roles.ts";
import type { PoolScaling } from "../config/types.ts";
import { threadName } from "../platform/placement.ts";
import type { ScaledPoolRefs } from "../scaling/pool-sampler.ts";
import { ScalingTrace } from "../scaling/scaling-trace.ts";
import type { TaskPool } from "./task-pool.ts";
import type { PoolThread } from "./worker-set.ts";

/** A dynamic thread goes behind its gate after this long without work (bastion: 100 ms). */
export const DYNAMIC_IDLE_MS = 100;
/** After a standalone thread failed to start, the manager's requests are dropped for this long. */
const SPAWN_BACKOFF_MS = 1000;
/** A standalone thread still loading after this long is no longer waited for (the next start goes ahead). */
const SPAWN_WAIT_MS = 10_000;

export interface ExitedThread {
  tid: number;
  name: string;
  /** Epoch ms. */
  at: number;
}

export class ThreadSeats {
  readonly counts = { spawned: 0, spawnFailures: 0, retired: 0 };
  /**
   * From the manager's request to the thread's ready handshake, ms: the last one and the longest.
   * The start happens on the main thread, so a busy main thread delays it (README, "Adaptive scaling").
   */
  readonly spawnDelayMs = { last: 0, max: 0 };
  /** When each wanted start was asked for (epoch ms), oldest first. */
  private readonly asked: number[] = [];
  /** The last thread that left each standalone seat, until a new one takes it. */
  readonly exited = new Map<number, ExitedThread>();
  /** The start in progress, if any (one at a time). */
  private inFlight: Promise<void> | undefined;
  private backoffUntil = 0;
  private readonly dynamicEnd: number;

  /** The pool manager's per-tick trace of this pool (written by it, read here); none for a fixed pool. */
  readonly trace: ScalingTrace | undefined;

  constructor(
    private readonly pool: TaskPool,
    readonly scaling: PoolScaling | undefined,
    readonly size: number,
    /** Tasks one thread runs at once (async pools; 1 for compute). */
    private readonly concurrency: number,
  ) {
    this.dynamicEnd = scaling ? dynamicSeats(scaling).end : size;
    this.trace = scaling ? new ScalingTrace() : undefined;
  }

  /** What the pool manager needs to sample the pool (a scaling pool only). */
  refs(): ScaledPoolRefs {
    const p = this.pool;
    return {
      pool: p.name, control: p.control.buffer, queues: p.queues.refs, trace: this.trace!.buffer, scaling: this.scaling!,
      seats: this.size, cores: p.placement.cores.length, concurrency: this.concurrency,
    };
  }

  roleOf(seat: number): ThreadRole {
    return roleOfSeat(this.scaling, seat);
  }

  /** Idle time before a dynamic thread rests behind its gate or a standalone one exits. */
  idleMsOf(seat: number): number {
    const role = this.roleOf(seat);
    return role === "dynamic" ? DYNAMIC_IDLE_MS : role === "standalone" ? this.scaling!.standaloneIdleMs : Infinity;
  }

  /** The name suffix's kind letter (`cpu-s0`, `cpu-d1`, `cpu-x2`); a fixed pool keeps `cpu-0`. */
  tagOf(seat: number): string {
    return roleTag(this.scaling, seat);
  }

  /** Seats started with the pool: static and dynamic ones (every seat of a fixed pool). */
  get initial(): number {
    return this.dynamicEnd;
  }

  /** A thread in a standalone seat that exits is not replaced (the manager asks again when needed). */
  replacesOnDeath(seat: number): boolean {
    return this.roleOf(seat) !== "standalone";
  }

  /**
   * The manager asked for threads (PoolControl.askSpawns): start one standalone thread, and when it is ready (or
   * failed, or still loading after SPAWN_WAIT_MS), the next, while any are wanted and a seat is
   * free. Each ends by taking 1 off the word. A closing pool still starts threads until it shuts
   * down: a drain may need them (a pool with no static or dynamic thread has no other).
   */
  startWanted(): void {
    const control = this.pool.control;
    if (this.inFlight) return;
    const wanted = control.spawnsWanted();
    if (wanted <= 0) return;
    const seat = this.freeSeat();
    // Nothing waits any more (the burst was served meanwhile): a thread started now would only retire.
    const needed = this.pool.queues.pending() > 0;
    if (!needed || this.pool.queues.idle.isShutdown() || seat < 0 || performance.now() < this.backoffUntil) {
      control.dropSpawns(wanted); // none can start now: the manager asks again if still needed
      this.asked.length = 0;
      return;
    }
    let gaveUp = false;
    const started = this.pool.workers.start(seat, true).then(
      () => {
        this.counts.spawned++;
        this.exited.delete(seat);
        const at = this.asked.shift();
        if (at !== undefined) {
          this.spawnDelayMs.last = performance.timeOrigin + performance.now() - at;
          this.spawnDelayMs.max = Math.max(this.spawnDelayMs.max, this.spawnDelayMs.last);
        }
        this.pool.queues.idle.notifyOne(); // it parks soon if there is no work
      },
      (e) => {
        // Counted once (a start given up on was counted then); a close stopping a loading thread is no failure.
        if (!gaveUp && !this.pool.closing) this.failed(`a standalone thread failed to start: ${(e as Error)?.message ?? e}`);
      },
    );
    // A load that never ends must not stop the pool from scaling: stop waiting for it (the seat stays
    // reserved; if it does become ready, it serves), and go on with the next.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, SPAWN_WAIT_MS))).then(() => {
      gaveUp = true;
      this.failed(`a standalone thread has been loading its module for ${SPAWN_WAIT_MS} ms; not waiting for it any more (its seat stays taken until it loads or the pool closes)`);
    });
    timer?.unref();
    this.inFlight = Promise.race([started, waited]).finally(() => {
      clearTimeout(timer);
      control.spawnAnswered();
      this.inFlight = undefined;
      this.startWanted();
    });
  }

  private failed(why: string): void {
    this.counts.spawnFailures++;
    this.asked.shift();
    this.backoffUntil = performance.now() + SPAWN_BACKOFF_MS;
    console.error(`bun-thread-manager: pool "${this.pool.name}": ${why}; the pool goes on with the threads it has (counted in metrics().scaler.spawnFailures)`);
  }

  /** The manager asked for `n` standalone threads at `at` (epoch ms): start them, one at a time. */
  request(n: number, at: number): void {
    for (let i = 0; i < n; i++) this.asked.push(at);
    this.startWanted();
  }

  /** A standalone thread left its seat after its idle time: read what it mailed last (its seat is still set), note it. */
  retired({ index: seat, tid }: PoolThread): void {
    this.pool.shared.drain([seat + 1]);
    this.counts.retired++;
    this.exited.set(seat, { tid, name: threadName(this.pool.name, seat, this.tagOf(seat)), at: performance.timeOrigin + performance.now() });
  }

  /**
   * Resolves once no standalone thread is starting, or after `ms` (close waits: terminating a Worker
   * that is still loading has crashed Bun, but a close must not wait past its own deadline).
   */
  async settled(ms: number): Promise<void> {
    if (this.inFlight) await within(this.inFlight, ms);
  }

  private freeSeat(): number {
    for (let i = this.dynamicEnd; i < this.size; i++) if (this.pool.workers.isFree(i)) return i;
    return -1;
  }
}
