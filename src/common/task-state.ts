/**
 * A task slot's state word: `gen << 16 | runner << 4 | state`, states FREE, QUEUED, RUNNING
 * (runner = the thread index), CANCELLED, and ABORT_FLAG added to RUNNING (PROTOCOL.md, "Tasks
 * and completions", "Cancellation"; models/task.pml). This file owns the word: every change is
 * one of the named transitions below, each saying what the caller must do next.
 */
import {
  TASK_GEN_MASK, TASK_GEN_SHIFT, TASK_RUNNER_MASK, TASK_RUNNER_SHIFT, TS_ABORT_FLAG, TS_CANCELLED, TS_FREE, TS_QUEUED, TS_RUNNING, TS_STATE_MASK,
} from "../shm/layout.ts";

export function packState(gen: number, runner: number, state: number): number {
  return ((gen & TASK_GEN_MASK) << TASK_GEN_SHIFT) | (runner << TASK_RUNNER_SHIFT) | state;
}

/** What cancel() did, and so what the main thread does next. */
export const enum Cancelled {
  /** It was queued: it will never run; its thread posts SKIPPED. */
  BeforeRun = 0,
  /** It runs: the abort flag is set; tell the runner (async pools) and watch the grace period. */
  WhileRunning = 1,
  /** Nothing to change (already flagged, finished, or another generation). */
  Nothing = 2,
}

export class TaskStates {
  constructor(
    private readonly w: Int32Array,
    /** Word index of slot `slot`'s state. */
    private readonly wordOf: (slot: number) => number,
  ) {}

  /** Main: slot `slot` now holds generation `gen`, queued (before its record is published). */
  queue(slot: number, gen: number): void {
    Atomics.store(this.w, this.wordOf(slot), packState(gen, 0, TS_QUEUED)); // TASK-S1
  }

  /** Main: the slot is given back (its completion arrived or its thread died). */
  free(slot: number, gen: number): void {
    Atomics.store(this.w, this.wordOf(slot), packState(gen, 0, TS_FREE));
  }

  /** A pool thread: claims the task; true: it runs it; false: it was cancelled first (skip it). */
  claim(slot: number, gen: number, runner: number): boolean {
    const queued = packState(gen, 0, TS_QUEUED);
    return Atomics.compareExchange(this.w, this.wordOf(slot), queued, packState(gen, runner, TS_RUNNING)) === queued; // TASK-T1
  }

  /** Main: cancels the task of generation `gen` if queued, else flags it if running. */
  cancel(slot: number, gen: number): Cancelled {
    const word = this.wordOf(slot);
    for (;;) {
      const s = Atomics.load(this.w, word);
      if (s === packState(gen, 0, TS_QUEUED)) {
        if (Atomics.compareExchange(this.w, word, s, packState(gen, 0, TS_CANCELLED)) === s) return Cancelled.BeforeRun; // TASK-C1
        continue;
      }
      if (((s >>> TASK_GEN_SHIFT) & TASK_GEN_MASK) !== gen || (s & TS_STATE_MASK) !== TS_RUNNING || (s & TS_ABORT_FLAG) !== 0) return Cancelled.Nothing;
      if (Atomics.compareExchange(this.w, word, s, s | TS_ABORT_FLAG) === s) return Cancelled.WhileRunning; // TASK-C2
    }
  }

  /** Main (close without draining): cancels the task only if it is still queued. */
  cancelQueued(slot: number, gen: number): boolean {
    const queued = packState(gen, 0, TS_QUEUED);
    return Atomics.compareExchange(this.w, this.wordOf(slot), queued, packState(gen, 0, TS_CANCELLED)) === queued;
  }

  // Transitions on a lane whose submitter is not this thread (PROTOCOL.md, "Submitters"): the main
  // thread reaps an exited submitter's lane, or cancels what a closing pool will not run.

  /** Main: cancels the slot's task of whatever generation if it is still queued. */
  cancelIfQueued(slot: number): boolean {
    const word = this.wordOf(slot);
    const s = Atomics.load(this.w, word);
    return (s & TS_STATE_MASK) === TS_QUEUED && Atomics.compareExchange(this.w, word, s, (s & ~TS_STATE_MASK) | TS_CANCELLED) === s;
  }

  /** The generation of the slot's task when thread `runner` runs it, else -1. */
  runningGen(slot: number, runner: number): number {
    const s = Atomics.load(this.w, this.wordOf(slot));
    if ((s & TS_STATE_MASK) !== TS_RUNNING || ((s >>> TASK_RUNNER_SHIFT) & TASK_RUNNER_MASK) !== runner) return -1;
    return (s >>> TASK_GEN_SHIFT) & TASK_GEN_MASK;
  }

  /** The generation of the slot's task if it runs with the abort flag set, else -1. */
  abortedRunningGen(slot: number): number {
    const s = Atomics.load(this.w, this.wordOf(slot));
    return (s & TS_STATE_MASK) === TS_RUNNING && (s & TS_ABORT_FLAG) !== 0 ? (s >>> TASK_GEN_SHIFT) & TASK_GEN_MASK : -1;
  }

  /** Queued or running (a record or a runner may still name it). */
  inFlight(slot: number): boolean {
    const state = Atomics.load(this.w, this.wordOf(slot)) & TS_STATE_MASK;
    return state === TS_QUEUED || state === TS_RUNNING;
  }

  /** The generation the slot last had: a lane's next holder continues after it, so no stale record matches. */
  genOf(slot: number): number {
    return (Atomics.load(this.w, this.wordOf(slot)) >>> TASK_GEN_SHIFT) & TASK_GEN_MASK;
  }

  /** Main, reaping: the slot's completion of generation `gen` arrived; freed unless it moved on. */
  freeIfGen(slot: number, gen: number): void {
    const word = this.wordOf(slot);
    const s = Atomics.load(this.w, word);
    if (((s >>> TASK_GEN_SHIFT) & TASK_GEN_MASK) === gen) Atomics.compareExchange(this.w, word, s, packState(gen, 0, TS_FREE));
  }

  /** Main, reaping: the lane is quiet; the slot is freed, keeping its generation. */
  freeAny(slot: number): void {
    const word = this.wordOf(slot);
    Atomics.store(this.w, word, packState(this.genOf(slot), 0, TS_FREE));
  }

  /** The thread running the slot's task, or -1 when it is not running. */
  runner(slot: number): number {
    const s = Atomics.load(this.w, this.wordOf(slot));
    return (s & TS_STATE_MASK) === TS_RUNNING ? (s >>> TASK_RUNNER_SHIFT) & TASK_RUNNER_MASK : -1;
  }

  /** The caller aborted the task (ctx.signal polls this): flagged while running, or cancelled. */
  abortRequested(slot: number): boolean {
    const s = Atomics.load(this.w, this.wordOf(slot));
    return (s & TS_ABORT_FLAG) !== 0 || (s & TS_STATE_MASK) === TS_CANCELLED;
  }
}
