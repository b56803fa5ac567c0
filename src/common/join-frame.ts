/**
 * Join frames (PROTOCOL.md, "Join frames"; models/join.pml, models/join-crash.pml): one per thread
 * and join depth, in the pool's control block. The owner marks a frame pending when it pushes a
 * half; a thief that takes the half marks it taken, writes the result words and publishes them with
 * the final state; the owner reads them once the state says so. If the thief dies first, the main
 * thread's crash repair marks the frame orphaned. This file owns the frame's words: every change is
 * one of the transitions below.
 */
import {
  JFS_DONE, JFS_FAILED, JFS_ORPHANED, JFS_PENDING, JFS_TAKEN, JF_A, JF_ARG_A, JF_ARG_B, JF_ARG_TYPE, JF_B, JF_GRAIN, JF_STATE, JF_TYPE,
} from "../shm/layout.ts";

/** A parallelFor split's grain and its shared argument, encoded once (kept in the frame). */
export interface RangeWords {
  grain: number;
  argType: number;
  argA: number;
  argB: number;
}

/** How the owner finds its frame. */
export const enum FrameOutcome {
  /** Not settled yet (pending, or a thief runs it). */
  Open = 0,
  Done = 1,
  Failed = 2,
  /** Its thief died while running it (the thread: `thief`). */
  Orphaned = 3,
}

export class JoinFrames {
  constructor(private readonly w: Int32Array) {}

  /** Owner, before pushing the half: the frame is pending (plain writes: the push's atomic store publishes them). */
  pending(fw: number, range?: RangeWords): void {
    const w = this.w;
    if (range) {
      w[fw + JF_GRAIN] = range.grain;
      w[fw + JF_ARG_TYPE] = range.argType;
      w[fw + JF_ARG_A] = range.argA;
      w[fw + JF_ARG_B] = range.argB;
    }
    w[fw + JF_STATE] = JFS_PENDING; // JOIN-J1
  }

  /** Thief: it runs the half now (crash repair learns whose frames to orphan if it dies). */
  taken(fw: number, thief: number): void {
    Atomics.store(this.w, fw + JF_STATE, JFS_TAKEN | (thief << 4));
  }

  /**
   * Main (crash repair), after thread `thief` died and before a replacement starts in its seat:
   * a frame it had taken and not settled is orphaned, so its owner stops waiting. The frame, not the
   * seat's liveness, says so: a replacement makes the seat live again. True when it orphaned one.
   */
  orphan(fw: number, thief: number): boolean {
    const taken = JFS_TAKEN | (thief << 4);
    return Atomics.compareExchange(this.w, fw + JF_STATE, taken, JFS_ORPHANED | (thief << 4)) === taken; // JOIN-J6
  }

  /** Thief, for a range half: the split's grain and shared argument. */
  range(fw: number): RangeWords {
    const w = this.w;
    return { grain: w[fw + JF_GRAIN]!, argType: w[fw + JF_ARG_TYPE]!, argA: w[fw + JF_ARG_A]!, argB: w[fw + JF_ARG_B]! };
  }

  /** Thief: writes the encoded result (or error), then the state that publishes it. */
  settle(fw: number, failed: boolean, type: number, a: number, b: number): void {
    const w = this.w;
    w[fw + JF_TYPE] = type;
    w[fw + JF_A] = a;
    w[fw + JF_B] = b;
    Atomics.store(w, fw + JF_STATE, failed ? JFS_FAILED : JFS_DONE); // JOIN-J5: publishes the three words above
  }

  /** Owner: has the frame settled? */
  outcome(fw: number): FrameOutcome {
    const s = Atomics.load(this.w, fw + JF_STATE) & 0xf; // JOIN-J4
    return s === JFS_DONE ? FrameOutcome.Done : s === JFS_FAILED ? FrameOutcome.Failed : s === JFS_ORPHANED ? FrameOutcome.Orphaned : FrameOutcome.Open;
  }

  /** Owner, once settled: the encoded result words [type, a, b]. */
  result(fw: number): [number, number, number] {
    const w = this.w;
    return [w[fw + JF_TYPE]!, w[fw + JF_A]!, w[fw + JF_B]!];
  }

  /** The thread that took the half (running it, or died doing so), or -1 (pending or settled). */
  thief(fw: number): number {
    const st = Atomics.load(this.w, fw + JF_STATE);
    return (st & 0xf) === JFS_TAKEN || (st & 0xf) === JFS_ORPHANED ? st >>> 4 : -1;
  }
}
