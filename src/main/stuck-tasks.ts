/**
 * Main thread: no pool wedges on a stuck task. A running task that was aborted (its signal, or
 * `task_timeout_ms`) and has not returned `abort_grace_ms` later gets its thread terminated; crash
 * repair then rejects what else that thread was running, leaves its queued work to the others and
 * starts a replacement in the same seat. Counted in `metrics().replaced`.
 *
 * task_timeout_ms is measured from when this watch first saw the task running: it looks every
 * quarter of the timeout (10 ms to 1 s), so a task is stopped between 1 and 1.25 timeouts in.
 */
import { Cancelled } from "../common/task-state.ts";
import { TimeoutError } from "../errors.ts";
import { LaneHolder, type SubmitterLanes } from "../shm/submitter-lanes.ts";
import type { Submitter } from "../submit/submitter.ts";

export class StuckTasks {
  /** Per slot: when the watch first saw the task of generation `gen` running, and its runner's chunk items then. */
  private readonly seen = new Map<number, { gen: number; at: number; items: number }>();
  private readonly timer: ReturnType<typeof setInterval>;
  /** Other threads' tasks seen running with the abort flag: since when. */
  private readonly flagged = new Map<number, { gen: number; at: number }>();

  constructor(
    /** The main thread's tasks. */
    private readonly main: Submitter,
    /** Other threads' lanes: their running tasks are timed too (aborted through the state word). */
    private readonly lanes: SubmitterLanes,
    /** Terminates the thread in a seat (crash repair replaces it). */
    private readonly replaceThread: (runner: number, why: string) => void,
    /** Tells a running task's thread that it was aborted (async pools fire ctx.signal at once). */
    private readonly tellRunner: (runner: number, slot: number, gen: number) => void,
    private readonly abortGraceMs: number,
    private readonly taskTimeoutMs: number | undefined,
    /** Map chunk items thread `runner` has started (WORKER_CHUNK_ITEMS): a chunk that moves on is timed per item. */
    private readonly chunkItems: (runner: number) => number,
  ) {
    // Always on: other threads' aborted tasks are found by looking (their aborts send nothing here).
    this.timer = setInterval(() => this.look(), Math.min(1000, Math.max(10, Math.min(taskTimeoutMs ?? Infinity, abortGraceMs) / 4)));
    this.timer.unref();
  }

  /** A running task was aborted: give it `abort_grace_ms` to return, then replace its thread. */
  aborted(slot: number, gen: number, runner: number): void {
    const timer = setTimeout(() => {
      if (this.main.target.states.runningGen(slot, runner) !== gen) return; // it returned (or its thread died)
      this.replaceThread(runner, `it ran a task that was aborted and did not return within abort_grace_ms (${this.abortGraceMs} ms)`);
    }, this.abortGraceMs);
    timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private look(): void {
    const now = performance.now();
    this.lookAtLanes(now);
    if (this.taskTimeoutMs === undefined) return;
    const { tasks } = this.main;
    for (const slot of this.seen.keys()) if (slot < tasks.first + tasks.size && !tasks.entry(slot)) this.seen.delete(slot);
    for (const [slot, e] of tasks.inUse()) {
      if (e.settled || tasks.runnerOf(slot) < 0) {
        this.seen.delete(slot);
        continue;
      }
      const first = this.seen.get(slot);
      if (!first || first.gen !== e.gen) {
        this.seen.set(slot, { gen: e.gen, at: now, items: this.chunkItems(tasks.runnerOf(slot)) });
        continue;
      }
      if (now - first.at < this.taskTimeoutMs! || this.movedOn(first, tasks.runnerOf(slot), now)) continue;
      this.seen.delete(slot);
      const timeout = new TimeoutError(`pool "${this.main.name}": handler "${e.handler}" ran longer than task_timeout_ms (${this.taskTimeoutMs} ms)`);
      this.main.abort(slot, e.gen, timeout, e.settle.timedOut?.(timeout) !== true); // a map chunk fails only its item that overran
    }
  }

  /**
   * Other threads' running tasks: the caller's promise is not this thread's to settle, so a task
   * past the timeout gets the abort flag (the handler sees ctx.signal; an async pool's thread is
   * told at once) and, past abort_grace_ms, its thread is replaced (the caller then gets
   * WorkerCrashedError). A task its caller aborted (the flag is set) gets the same grace period,
   * counted from when this watch first saw the flag.
   */
  private lookAtLanes(now: number): void {
    const { lanes } = this;
    const states = this.main.target.states;
    for (let lane = 1; lane < lanes.count; lane++) {
      if (lanes.holder(lane).state === LaneHolder.Free) continue;
      const { first, count } = lanes.slotsOf(lane);
      for (let slot = first; slot < first + count; slot++) {
        const flagged = states.abortedRunningGen(slot);
        if (flagged >= 0) {
          const since = this.flagged.get(slot);
          if (!since || since.gen !== flagged) this.flagged.set(slot, { gen: flagged, at: now });
          else if (now - since.at >= this.abortGraceMs) {
            this.flagged.delete(slot);
            this.replaceThread(states.runner(slot), `it ran a task that was aborted and did not return within abort_grace_ms (${this.abortGraceMs} ms)`);
          }
          continue;
        }
        this.flagged.delete(slot);
        if (this.taskTimeoutMs === undefined) continue;
        const runner = states.runner(slot);
        const gen = runner < 0 ? -1 : states.runningGen(slot, runner);
        if (gen < 0) {
          this.seen.delete(slot);
          continue;
        }
        const seen = this.seen.get(slot);
        if (!seen || seen.gen !== gen) {
          this.seen.set(slot, { gen, at: now, items: this.chunkItems(runner) });
          continue;
        }
        if (now - seen.at < this.taskTimeoutMs! || this.movedOn(seen, runner, now)) continue;
        this.seen.delete(slot);
        if (states.cancel(slot, gen) !== Cancelled.WhileRunning) continue;
        this.tellRunner(runner, slot, gen); // flagged now: the next looks count its grace period
      }
    }
  }

  /**
   * CHUNK-T2: a map chunk past the timeout whose runner started another item since the watch last
   * looked is not stuck: each item is timed, from when the watch saw the chunk move on.
   */
  private movedOn(seen: { at: number; items: number }, runner: number, now: number): boolean {
    const items = this.chunkItems(runner);
    if (items === seen.items) return false;
    seen.at = now;
    seen.items = items;
    return true;
  }
}
