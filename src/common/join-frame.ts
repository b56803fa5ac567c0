/**
 * Join frames (PROTOCOL.md, "Join frames"; models/join.pml, models/join-crash.pml): one per thread
 * and join depth, in the pool's control block. The owner opens a new generation of its frame when
 * it pushes a half (the generation rides in the half's record id); a thief that takes the half
 * claims the frame for that generation, writes the result words and publishes them with the final
 * state; the owner reads them once the state says so. If the thief dies first, the main thread's
 * crash repair marks the frame orphaned. If the owner dies first, its seat's next thread opens new
 * generations of the same frames: a half of the dead owner's (still queued, or running on a thief)
 * then finds its generation gone and is dropped instead of answering a join it does not belong to.
 * This file owns the frame's words: every change is one of the transitions below.
 */
import {
  JFS_DONE, JFS_FAILED, JFS_IDLE, JFS_ORPHANED, JFS_PENDING, JFS_PREPARING, JFS_TAKEN, JFS_WRITING, JF_A, JF_ARG_A,
  JF_ARG_B, JF_ARG_TYPE, JF_B, JF_GEN_SHIFT, JF_GRAIN, JF_STATE, JF_TASK, JF_THIEF_SHIFT, JF_TYPE, JOIN_GEN_MASK,
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

const STATE = 0xf;
const THIEF = 0xfff;
const genOf = (s: number) => (s >>> JF_GEN_SHIFT) & JOIN_GEN_MASK;

export class JoinFrames {
  constructor(private readonly w: Int32Array) {}

  /**
   * Owner, its first half at this depth: opens the frame's next generation and returns it (it goes
   * in the half's record id). The frame may still be a dead predecessor's: a stale thief writing
   * its result is waited out (a few plain stores, or its death: crash repair orphans the frame), one
   * still running loses its claim (the CAS moves the state off its TAKEN), and a result nobody read
   * is handed to `unread` to free.
   */
  open(fw: number, range: RangeWords | undefined, task: number, unread: (type: number, a: number) => void): number {
    const w = this.w;
    let s = Atomics.load(w, fw + JF_STATE);
    for (;;) {
      if ((s & STATE) === JFS_WRITING) {
        // A few stores of the thief's, or (it died there) until crash repair orphans the frame: wait
        // on the word rather than spin at full speed on a core the repair may need.
        Atomics.wait(w, fw + JF_STATE, s, 0.05);
        s = Atomics.load(w, fw + JF_STATE);
        continue;
      }
      const gen = (genOf(s) + 1) & JOIN_GEN_MASK;
      const seen = Atomics.compareExchange(w, fw + JF_STATE, s, JFS_PREPARING | (gen << JF_GEN_SHIFT));
      if (seen !== s) {
        s = seen;
        continue;
      }
      if ((s & STATE) === JFS_DONE || (s & STATE) === JFS_FAILED) unread(w[fw + JF_TYPE]!, w[fw + JF_A]!);
      if (range) this.writeRange(fw, range);
      w[fw + JF_TASK] = task;
      Atomics.store(w, fw + JF_STATE, JFS_PENDING | (gen << JF_GEN_SHIFT));
      return gen;
    }
  }

  /**
   * Owner, a later half at this depth: its previous generation here is over (taken back, or its
   * outcome read), and every generation before it was opened by this thread, so no other thread
   * holds this frame: plain writes, published by the push of the half's record.
   */
  reopen(fw: number, gen: number, range: RangeWords | undefined, task: number): number {
    if (range) this.writeRange(fw, range);
    this.w[fw + JF_TASK] = task;
    this.w[fw + JF_STATE] = JFS_PENDING | (gen << JF_GEN_SHIFT);
    return gen;
  }

  /** Thief, before it takes the half (the take's CAS then vouches for it): the owner's task, whose abort the half sees. */
  task(fw: number): number {
    return this.w[fw + JF_TASK]!;
  }

  /** Thief, for a range half, before it takes the half (the take's CAS then vouches for them): the split's grain and shared argument. */
  range(fw: number): RangeWords {
    const w = this.w;
    return { grain: w[fw + JF_GRAIN]!, argType: w[fw + JF_ARG_TYPE]!, argA: w[fw + JF_ARG_A]!, argB: w[fw + JF_ARG_B]! };
  }

  /**
   * Thief: claims the half of generation `gen` (crash repair learns whose frames to orphan if it
   * dies). False: that generation is gone (its owner died and the seat's next thread moved on):
   * drop the half.
   */
  take(fw: number, thief: number, gen: number): boolean {
    const pending = JFS_PENDING | (gen << JF_GEN_SHIFT);
    return Atomics.compareExchange(this.w, fw + JF_STATE, pending, JFS_TAKEN | (thief << JF_THIEF_SHIFT) | (gen << JF_GEN_SHIFT)) === pending; // JOIN-J5
  }

  /** Thief, with the half's outcome in hand: may it write it? False: the generation is gone, nobody will read it. */
  claimWrite(fw: number, thief: number, gen: number): boolean {
    const taken = JFS_TAKEN | (thief << JF_THIEF_SHIFT) | (gen << JF_GEN_SHIFT);
    return Atomics.compareExchange(this.w, fw + JF_STATE, taken, JFS_WRITING | (thief << JF_THIEF_SHIFT) | (gen << JF_GEN_SHIFT)) === taken; // JOIN-J7
  }

  /** Thief, after claimWrite: writes the encoded result (or error), then the state that publishes it. */
  settle(fw: number, gen: number, failed: boolean, type: number, a: number, b: number): void {
    const w = this.w;
    w[fw + JF_TYPE] = type;
    w[fw + JF_A] = a;
    w[fw + JF_B] = b;
    Atomics.store(w, fw + JF_STATE, (failed ? JFS_FAILED : JFS_DONE) | (gen << JF_GEN_SHIFT)); // JOIN-J8: publishes the three words above
  }

  /**
   * Main (crash repair), after thread `thief` died and before a replacement starts in its seat:
   * a frame it had taken (or was writing) is orphaned, so its owner stops waiting. The frame, not
   * the seat's liveness, says so: a replacement makes the seat live again. True when it orphaned one.
   */
  orphan(fw: number, thief: number): boolean {
    const s = Atomics.load(this.w, fw + JF_STATE);
    const state = s & STATE;
    if ((state !== JFS_TAKEN && state !== JFS_WRITING) || ((s >>> JF_THIEF_SHIFT) & THIEF) !== thief) return false;
    return Atomics.compareExchange(this.w, fw + JF_STATE, s, JFS_ORPHANED | (s & ~STATE)) === s; // JOIN-J6
  }

  /** Owner: has the frame settled? */
  outcome(fw: number): FrameOutcome {
    const s = Atomics.load(this.w, fw + JF_STATE) & STATE; // JOIN-J4
    return s === JFS_DONE ? FrameOutcome.Done : s === JFS_FAILED ? FrameOutcome.Failed : s === JFS_ORPHANED ? FrameOutcome.Orphaned : FrameOutcome.Open;
  }

  /** Owner, once settled: the encoded result words [type, a, b]. */
  result(fw: number): [number, number, number] {
    const w = this.w;
    return [w[fw + JF_TYPE]!, w[fw + JF_A]!, w[fw + JF_B]!];
  }

  /** Owner, once it has taken the outcome: the frame holds nothing unread (the next pending frees nothing). */
  consumed(fw: number): void {
    const s = Atomics.load(this.w, fw + JF_STATE);
    Atomics.store(this.w, fw + JF_STATE, JFS_IDLE | (s & ~STATE));
  }

  /** Owner, opening a generation: the split's grain and shared argument (plain: the PENDING store or the push publishes them). */
  private writeRange(fw: number, range: RangeWords): void {
    const w = this.w;
    w[fw + JF_GRAIN] = range.grain;
    w[fw + JF_ARG_TYPE] = range.argType;
    w[fw + JF_ARG_A] = range.argA;
    w[fw + JF_ARG_B] = range.argB;
  }

  /** The thread that took the half (running it, writing, or died doing so), or -1. */
  thief(fw: number): number {
    const s = Atomics.load(this.w, fw + JF_STATE);
    const state = s & STATE;
    return state === JFS_TAKEN || state === JFS_WRITING || state === JFS_ORPHANED ? (s >>> JF_THIEF_SHIFT) & THIEF : -1;
  }
}
