/**
 * Main thread: what a thread that submitted to this pool leaves behind when it exits (crash,
 * process.exit, retirement, replacement, close), and what a pool thread that dies leaves in other
 * threads' lanes (PROTOCOL.md, "Submitters").
 *
 * - Reaping a lane: its holder is gone, so nobody reads its completion ring. Queued tasks are
 *   cancelled (their threads skip them and free their arguments); the ring is drained here, each
 *   result's payload freed and its slot's state word freed. When no slot of the lane is queued or
 *   running, and the pool's queues have been seen empty twice in a row (no record of a cancelled
 *   slot can still be waiting: it would have been taken), the lane is free again.
 * - A pool thread died running a lane's task: its submitter is told with a DONE_CRASHED completion,
 *   pushed here on the dead thread's behalf (a completion the thread pushed before dying is ahead
 *   of it in the ring, and then the crash notice finds no task and is dropped).
 */
import type { ValueCodec } from "../common/codec.ts";
import type { TaskStates } from "../common/task-state.ts";
import type { Injector } from "../shm/injector.ts";
import { DONE_CRASHED, ID_GEN_SHIFT, ID_SLOT_MASK, REC_A, REC_B, REC_ID, REC_OP, REC_WORDS, TASK_GEN_MASK, chunkItemOf } from "../shm/layout.ts";
import type { PoolQueues } from "../shm/pool-queues.ts";
import { LaneHolder, addCounts, type SubmitterLanes } from "../shm/submitter-lanes.ts";
import { releaseCompletion } from "../submit/task-chunk.ts";

const TICK_MS = 5;
const NAP = new Int32Array(new SharedArrayBuffer(4));

/**
 * A lane's ring has two cells per slot (a notice beside a real completion pushed just before the
 * death fits), so it is full only while its holder is between claiming and releasing a cell:
 * retry briefly. A holder that died there has its lane reaped by this thread, which never waits on itself.
 */
function pushWaiting(ring: Injector, rec: Int32Array): void {
  const until = performance.now() + 1000;
  while (!ring.push(rec) && performance.now() < until) Atomics.wait(NAP, 0, 0, 0.05);
}

export class LaneReaper {
  /** Lanes being reaped, with how many ticks in a row they saw the queues empty. */
  private readonly reaping = new Map<number, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The pool's threads are gone (dispose). */
  private stopped = false;
  private readonly rec = new Int32Array(REC_WORDS);
  /** Lanes freed again, and what their submitters had counted (metrics stay monotonic). */
  reaped = 0;
  readonly reapedCounts = { submitted: 0, completed: 0, failed: 0, cancelled: 0, crashed: 0, busy: 0, closed: 0, dropped: 0 };

  constructor(
    private readonly lanes: SubmitterLanes,
    private readonly rings: Injector[],
    private readonly states: TaskStates,
    private readonly queues: PoolQueues,
    /** The main thread's codec: it frees payloads in any segment. */
    private readonly codec: ValueCodec,
  ) {}

  /** The thread with `token` exited: reap every lane it held in this pool. */
  exited(token: number): void {
    for (const lane of this.lanes.startReaping(token)) {
      const { first, count } = this.lanes.slotsOf(lane);
      for (let slot = first; slot < first + count; slot++) this.states.cancelIfQueued(slot); // LANE-R2
      this.reaping.set(lane, 0);
    }
    if (this.stopped) return this.freeAll(); // LANE-R4: no pool thread is left to run or take these tasks
    if (this.reaping.size > 0 && this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
  }

  /**
   * Pool thread `runner` died: every lane task it was running gets a crash notice (LANE-K1),
   * carrying what its WORKER_CHUNK_AT word says of that task (CHUNK K2) for a map chunk's submitter.
   */
  runnerDied(runner: number, chunkWord: number): void {
    for (let lane = 1; lane < this.lanes.count; lane++) {
      if (this.lanes.holder(lane).state === LaneHolder.Free) continue;
      const { first, count } = this.lanes.slotsOf(lane);
      let told = false;
      for (let slot = first; slot < first + count; slot++) {
        const gen = this.states.runningGen(slot, runner);
        if (gen < 0) continue;
        const r = this.rec;
        r[REC_ID] = slot | (gen << ID_GEN_SHIFT);
        r[REC_OP] = DONE_CRASHED;
        r[REC_A] = runner;
        r[REC_B] = chunkItemOf(chunkWord, slot);
        pushWaiting(this.rings[lane]!, r);
        told = true;
      }
      if (told) this.lanes.doorbell(lane).ring();
    }
    if (this.reaping.size > 0) this.tick();
  }

  /** The pool's threads are gone: lanes being reaped are freed now, and those of threads that exit later at once. */
  stop(): void {
    this.stopped = true;
    this.freeAll();
  }

  private freeAll(): void {
    for (const lane of this.reaping.keys()) this.free(lane);
    this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const idle = this.queues.pending() === 0;
    for (const [lane, quiet] of this.reaping) {
      this.drain(lane);
      if (this.busy(lane)) {
        this.reaping.set(lane, 0);
        continue;
      }
      if (!idle || quiet + 1 < 2) {
        this.reaping.set(lane, idle ? quiet + 1 : 0);
        continue;
      }
      this.free(lane);
    }
    if (this.reaping.size === 0) this.stopTimer();
  }

  /** Frees a reaped lane's slots and the lane; what its tasks never settled counts as dropped. */
  private free(lane: number): void {
    this.drain(lane);
    const { first, count } = this.lanes.slotsOf(lane);
    for (let slot = first; slot < first + count; slot++) this.states.freeAny(slot);
    const c = this.lanes.freeLane(lane);
    addCounts(this.reapedCounts, c);
    this.reapedCounts.dropped += Math.max(0, c.submitted - c.completed - c.failed - c.cancelled - c.crashed); // its caller was gone
    this.reaping.delete(lane);
    this.reaped++;
  }

  /** Takes the lane's completions: frees each result's payload and its slot. */
  private drain(lane: number): void {
    const ring = this.rings[lane]!;
    const r = this.rec;
    while (ring.pop(r)) {
      const id = r[REC_ID]!;
      releaseCompletion(this.codec, r[REC_OP]!, r[REC_A]!, r[REC_B]!); // CHUNK-R1: a map chunk's frees its items' results too
      this.states.freeIfGen(id & ID_SLOT_MASK, (id >>> ID_GEN_SHIFT) & TASK_GEN_MASK);
    }
  }

  /** Some slot of the lane is still queued or running. */
  private busy(lane: number): boolean {
    const { first, count } = this.lanes.slotsOf(lane);
    for (let slot = first; slot < first + count; slot++) if (this.states.inFlight(slot)) return true;
    return false;
  }
}
