/**
 * A pool's submitter lanes (PROTOCOL.md, "Submitters"): every thread that submits tasks to the
 * pool does so through a lane of its own: a range of task slots, a completion ring and a doorbell.
 * Lane 0 is the main thread's, for good. Lanes 1.. are taken by pool threads and native threads
 * the first time they call the pool, and given back by the main thread once such a thread has
 * exited and every task it left has completed ("reaping"). A pool thread that completes a task
 * pushes the completion into the ring of the lane its slot belongs to, so completions never pass
 * through another thread. Modelled in models/lanes.pml with the same step labels.
 *
 * This file owns the lane words (LANE_STATE, the owner's counters, the pool's CLOSING/STOPPED):
 * every change is one of the named transitions below.
 *
 * Concurrency contract: `claim` any thread; `pending`/`submitted` writes only the lane's owner;
 * `startReaping`, `freeLane`, `markClosing`, `markStopped` only the main thread; reads any thread.
 */
import { Doorbell } from "./doorbell.ts";
import {
  HDR_MAGIC, LANES_CLOSING, LANES_COUNT, LANES_FIRST, LANES_LANE_SHIFT, LANES_LANE_SLOTS, LANES_MAGIC, LANES_MAIN_SLOTS,
  LANES_STOPPED, LANE_DOORBELL, LANE_FREE, LANE_HELD, LANE_PENDING, LANE_REAPING, LANE_STATE, LANE_SUBMITTED,
  LANE_TAG_MASK, LANE_TOKEN_SHIFT, LANE_WAITING, LANE_COMPLETED, LANE_FAILED, LANE_CANCELLED, LANE_CRASHED, LANE_SHED_BUSY, LANE_SHED_CLOSED, LINE, MAX_LANE_TOKEN, attachHeader, lanesBytes,
} from "./layout.ts";

export interface LaneCounts {
  submitted: number;
  completed: number;
  failed: number;
  cancelled: number;
  crashed: number;
  /** run() calls refused at once: the pool was busy (max_queue_per_thread) or closed. */
  busy: number;
  closed: number;
  pending: number;
}

/** Adds `from`'s counts (all but `pending`) into `into`. */
export function addCounts(into: Omit<LaneCounts, "pending">, from: Omit<LaneCounts, "pending">): void {
  into.submitted += from.submitted;
  into.completed += from.completed;
  into.failed += from.failed;
  into.cancelled += from.cancelled;
  into.crashed += from.crashed;
  into.busy += from.busy;
  into.closed += from.closed;
}

/** What a holder has settled or refused so far (it stores them after each drain, abort and refusal). */
export type SettledCounts = Pick<LaneCounts, "submitted" | "completed" | "failed" | "cancelled" | "crashed" | "busy" | "closed">;

/** Who holds a lane now. */
export const LaneHolder = {
  Free: 0,
  Held: 1,
  Reaping: 2,
} as const;

export class SubmitterLanes {
  readonly buffer: SharedArrayBuffer;
  readonly w: Int32Array;
  /** Lanes, the main thread's included. */
  readonly count: number;
  readonly mainSlots: number;
  readonly laneSlots: number;
  private readonly shift: number;

  private constructor(buffer: SharedArrayBuffer) {
    const header = attachHeader("submitter lanes", { buffer, byteOffset: 0 }, LANES_MAGIC);
    this.buffer = buffer;
    this.w = new Int32Array(buffer);
    this.count = header[LANES_COUNT]!;
    this.mainSlots = header[LANES_MAIN_SLOTS]!;
    this.laneSlots = header[LANES_LANE_SLOTS]!;
    this.shift = header[LANES_LANE_SHIFT]!;
  }

  /** `lanes` lanes (main's included); `laneSlots` a power of two. */
  static allocate(lanes: number, mainSlots: number, laneSlots: number): SubmitterLanes {
    const buffer = new SharedArrayBuffer(lanesBytes(lanes));
    const w = new Int32Array(buffer);
    w[LANES_COUNT] = lanes;
    w[LANES_MAIN_SLOTS] = mainSlots;
    w[LANES_LANE_SLOTS] = laneSlots;
    w[LANES_LANE_SHIFT] = 31 - Math.clz32(laneSlots);
    Atomics.store(w, HDR_MAGIC, LANES_MAGIC);
    return new SubmitterLanes(buffer);
  }

  static attach(buffer: SharedArrayBuffer): SubmitterLanes {
    return new SubmitterLanes(buffer);
  }

  /** Task slots of every lane together. */
  get totalSlots(): number {
    return this.mainSlots + (this.count - 1) * this.laneSlots;
  }

  /** The lane task slot `slot` belongs to. */
  laneOf(slot: number): number {
    return slot < this.mainSlots ? 0 : 1 + ((slot - this.mainSlots) >>> this.shift);
  }

  /** The first slot of lane `lane` and how many it has. */
  slotsOf(lane: number): { first: number; count: number } {
    return lane === 0 ? { first: 0, count: this.mainSlots } : { first: this.mainSlots + (lane - 1) * this.laneSlots, count: this.laneSlots };
  }

  /** The doorbell of lane `lane` >= 1 (lane 0 rings the control block's). */
  doorbell(lane: number): Doorbell {
    const at = LANES_FIRST + lane * LINE;
    return new Doorbell(this.w, at + LANE_WAITING, at + LANE_DOORBELL);
  }

  /** Any thread: takes a free lane for the thread with `token` (1..MAX_LANE_TOKEN); -1 when every lane is held. */
  claim(token: number): number {
    if (!Number.isInteger(token) || token < 1 || token > MAX_LANE_TOKEN) throw new RangeError(`submitter lanes: bad token ${token}`);
    const held = (token << LANE_TOKEN_SHIFT) | LANE_HELD;
    for (let lane = 1; lane < this.count; lane++) {
      const at = this.word(lane, LANE_STATE);
      if (Atomics.load(this.w, at) !== LANE_FREE) continue;
      if (Atomics.compareExchange(this.w, at, LANE_FREE, held) === LANE_FREE) return lane; // LANE-C1
    }
    return -1;
  }

  /** Who holds `lane`, and the holder's token. */
  holder(lane: number): { state: (typeof LaneHolder)[keyof typeof LaneHolder]; token: number } {
    const s = Atomics.load(this.w, this.word(lane, LANE_STATE));
    return { state: (s & LANE_TAG_MASK) as 0 | 1 | 2, token: s >>> LANE_TOKEN_SHIFT };
  }

  /** Main: the thread with `token` has exited; its held lanes start reaping. Returns them. */
  startReaping(token: number): number[] {
    const held = (token << LANE_TOKEN_SHIFT) | LANE_HELD;
    const reaping: number[] = [];
    for (let lane = 1; lane < this.count; lane++) {
      const at = this.word(lane, LANE_STATE);
      if (Atomics.compareExchange(this.w, at, held, (token << LANE_TOKEN_SHIFT) | LANE_REAPING) === held) reaping.push(lane); // LANE-R1
    }
    return reaping;
  }

  /** Main: a reaped lane has no task left in flight; any thread may claim it again. Returns its final counts. */
  freeLane(lane: number): LaneCounts {
    const counts = this.counts(lane);
    for (const f of [LANE_PENDING, LANE_SUBMITTED, LANE_COMPLETED, LANE_FAILED, LANE_CANCELLED, LANE_CRASHED, LANE_SHED_BUSY, LANE_SHED_CLOSED]) {
      Atomics.store(this.w, this.word(lane, f), 0);
    }
    Atomics.store(this.w, this.word(lane, LANE_STATE), LANE_FREE); // LANE-R3
    return counts;
  }

  /** The lane's owner, after a drain or an abort: its tasks so far (submitted counts one waiting for arena room too). */
  setSettled(lane: number, c: SettledCounts): void {
    Atomics.store(this.w, this.word(lane, LANE_SUBMITTED), c.submitted);
    Atomics.store(this.w, this.word(lane, LANE_COMPLETED), c.completed);
    Atomics.store(this.w, this.word(lane, LANE_FAILED), c.failed);
    Atomics.store(this.w, this.word(lane, LANE_CANCELLED), c.cancelled);
    Atomics.store(this.w, this.word(lane, LANE_CRASHED), c.crashed);
    Atomics.store(this.w, this.word(lane, LANE_SHED_BUSY), c.busy);
    Atomics.store(this.w, this.word(lane, LANE_SHED_CLOSED), c.closed);
  }

  counts(lane: number): LaneCounts {
    const w = this.w;
    return {
      submitted: Atomics.load(w, this.word(lane, LANE_SUBMITTED)), completed: Atomics.load(w, this.word(lane, LANE_COMPLETED)),
      failed: Atomics.load(w, this.word(lane, LANE_FAILED)), cancelled: Atomics.load(w, this.word(lane, LANE_CANCELLED)),
      crashed: Atomics.load(w, this.word(lane, LANE_CRASHED)), busy: Atomics.load(w, this.word(lane, LANE_SHED_BUSY)),
      closed: Atomics.load(w, this.word(lane, LANE_SHED_CLOSED)), pending: Atomics.load(w, this.word(lane, LANE_PENDING)),
    };
  }

  /** The lane's owner: its tasks in flight now (metrics and `pending` read it). */
  setPending(lane: number, n: number): void {
    Atomics.store(this.w, this.word(lane, LANE_PENDING), n);
  }

  pending(lane: number): number {
    return Atomics.load(this.w, this.word(lane, LANE_PENDING));
  }

  /** Main: the pool closes; thread submitters refuse new tasks from now on. */
  markClosing(): void {
    Atomics.store(this.w, LANES_CLOSING, 1);
  }

  get closing(): boolean {
    return Atomics.load(this.w, LANES_CLOSING) !== 0;
  }

  /** Main: the pool's threads are gone; wakes every lane's owner so it rejects what it still waits for. */
  markStopped(): void {
    Atomics.store(this.w, LANES_STOPPED, 1); // LANE-S1
    for (let lane = 1; lane < this.count; lane++) this.doorbell(lane).release();
  }

  get stopped(): boolean {
    return Atomics.load(this.w, LANES_STOPPED) !== 0;
  }

  private word(lane: number, field: number): number {
    return LANES_FIRST + lane * LINE + field;
  }
}
