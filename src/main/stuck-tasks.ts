/**
 * Main thread: no pool wedges on a stuck task. A running task that was aborted (its signal, or
 * `task_timeout_ms`) and has not returned `abort_grace_ms` later gets its thread terminated; crash
 * repair then rejects what else that thread was running, leaves its queued work to the others and
 * starts a replacement in the same seat. Counted in `metrics().replaced`.
 *
 * task_timeout_ms is measured from when this watch first saw the task running: it looks every
 * quarter of the timeout (10 ms to 1 s), so a task is stopped between 1 and 1.25 timeouts in.
 */
import { TimeoutError } from "../errors.ts";
import type { Submitter } from "../submit/submitter.ts";

export class StuckTasks {
  /** Per slot: when the watch first saw the task of generation `gen` running. */
  private readonly seen = new Map<number, { gen: number; at: number }>();
  private readonly timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    /** The main thread's tasks (thread submitters' tasks are timed by their own threads' signals). */
    private readonly main: Submitter,
    /** Terminates the thread in a seat (crash repair replaces it). */
    private readonly replaceThread: (runner: number, why: string) => void,
    private readonly abortGraceMs: number,
    private readonly taskTimeoutMs: number | undefined,
  ) {
    if (taskTimeoutMs === undefined) return;
    this.timer = setInterval(() => this.look(), Math.min(1000, Math.max(10, taskTimeoutMs / 4)));
    this.timer.unref();
  }

  /** A running task was aborted: give it `abort_grace_ms` to return, then replace its thread. */
  aborted(slot: number, gen: number, runner: number): void {
    const timer = setTimeout(() => {
      const { tasks } = this.main;
      if (tasks.runnerOf(slot) !== runner || tasks.lookup(slot, gen) === undefined) return;
      this.replaceThread(runner, `it ran a task that was aborted and did not return within abort_grace_ms (${this.abortGraceMs} ms)`);
    }, this.abortGraceMs);
    timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private look(): void {
    const { tasks } = this.main;
    const now = performance.now();
    for (const slot of this.seen.keys()) if (!tasks.entry(slot)) this.seen.delete(slot);
    for (const [slot, e] of tasks.inUse()) {
      if (e.settled || tasks.runnerOf(slot) < 0) {
        this.seen.delete(slot);
        continue;
      }
      const first = this.seen.get(slot);
      if (!first || first.gen !== e.gen) {
        this.seen.set(slot, { gen: e.gen, at: now });
        continue;
      }
      if (now - first.at < this.taskTimeoutMs!) continue;
      this.seen.delete(slot);
      this.main.abort(slot, e.gen, new TimeoutError(`pool "${this.main.name}": handler "${e.handler}" ran longer than task_timeout_ms (${this.taskTimeoutMs} ms)`));
    }
  }
}
