/**
 * Async pool thread (tokio-like): runs async handlers, up to `concurrency` in flight on this
 * thread. The event loop stays alive (timers, fetch, file I/O inside handlers work): when there is
 * nothing to take, the thread parks with `Atomics.waitAsync`, never a blocking wait. Aborts of
 * running tasks arrive as control messages and fire `ctx.signal`.
 *
 * Fault isolation: every handler runs in an AsyncLocalStorage context holding its task id, so an
 * uncaught exception in a timer or callback it scheduled fails that task alone (TaskError), and the
 * thread goes on serving the others. Unhandled rejections (no context survives to them) and faults
 * outside any task are logged once per kind and counted (metrics: threads[i].faults).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { AbortNotice } from "../common/pool-setup.ts";
import { REC_ID, REC_WORDS } from "../shm/layout.ts";
import { NEXT_CLOSED, NEXT_IDLE } from "../shm/work-finder.ts";
import { IDLE_RETIRE } from "./thread-role.ts";
import type { TaskContext } from "./task-context.ts";
import type { WorkerCore } from "./worker-core.ts";
import type { ThreadPools } from "../submit/thread-pools.ts";

/** A thread behind the manager gate reads its mail and lets finalizers run this often (ms). */
const REST_UPKEEP_MS = 1000;
/**
 * While tasks are in flight, their abort flags are looked at this often (ms): a thread submitter's
 * abort only sets the flag (the main thread's also posts a message, which fires ctx.signal at once).
 */
const ABORT_POLL_MS = 20;

export class AsyncRuntime {
  private inFlight = 0;
  /** Tasks started, for the busy upkeep beat. */
  private started = 0;
  private slotFree: (() => void) | undefined;
  private readonly controllers = new Map<number, AbortController>();
  /** Handler index of each task in flight, by id. */
  private readonly handlerOf = new Map<number, number>();
  private readonly context = new AsyncLocalStorage<number>();
  private abortPoll: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly core: WorkerCore,
    private readonly concurrency: number,
    private readonly tid: number,
    private readonly pools: ThreadPools,
  ) {
    process.on("uncaughtException", (e) => this.fault(e, "an uncaught exception"));
    process.on("unhandledRejection", (e) => this.fault(e, "an unhandled rejection"));
  }

  /** A fault escaped a handler: fail its task when the context says which, else report and count it. */
  private fault(error: unknown, kind: string): void {
    const id = this.context.getStore();
    const h = id === undefined ? undefined : this.handlerOf.get(id);
    if (id !== undefined && h !== undefined) return this.settle(id, h, error, true);
    this.core.fault(kind, error);
  }

  /**
   * Runs until the pool shuts down and every started task has finished ("closed"), or, for a
   * standalone thread, until it has had nothing in flight and found no work for its idle time
   * ("retired"). A dynamic thread in that situation waits behind the manager gate instead.
   */
  async run(): Promise<"closed" | "retired"> {
    const rec = new Int32Array(REC_WORDS);
    const finder = this.core.finder;
    const role = this.core.role;
    for (;;) {
      this.core.idle();
      if (role.resting) {
        // Behind the manager gate with nothing in flight; every REST_UPKEEP_MS: mail and finalizers.
        await role.restAsync(REST_UPKEEP_MS);
        this.core.turn();
        continue;
      }
      while (this.inFlight < this.concurrency && finder.tryNext(rec)) this.start(rec);
      if (this.inFlight >= this.concurrency) {
        await new Promise<void>((resolve) => (this.slotFree = resolve));
        continue;
      }
      this.core.turn();
      const got = await finder.nextAsync(rec, role.parkMs(this.core.upkeepMs));
      if (got === NEXT_CLOSED) break;
      if (got === NEXT_IDLE) {
        if (this.inFlight === 0) this.core.turn(true); // idle: collect what the tasks left, once
        // Tasks still in flight keep the thread in the pool; their completions restart its idle clock.
        if (this.inFlight === 0 && role.idleLongEnough() && (await role.restAsync(REST_UPKEEP_MS)) === IDLE_RETIRE) return "retired";
        continue;
      }
      this.start(rec);
    }
    while (this.inFlight > 0) await new Promise<void>((resolve) => (this.slotFree = resolve));
    return "closed";
  }

  /** Control messages from the main thread. */
  onControl(msg: AbortNotice): void {
    if (msg?.type === "abort") this.controllers.get(msg.id)?.abort(new DOMException("The task was aborted by its caller", "AbortError"));
  }

  /** Fires ctx.signal of every task in flight whose caller aborted it (from any thread). */
  private pollAborts(): void {
    for (const [id, controller] of this.controllers) {
      if (!controller.signal.aborted && this.core.abortRequested(id)) controller.abort(new DOMException("The task was aborted by its caller", "AbortError"));
    }
  }

  private start(rec: Int32Array): void {
    if ((++this.started & 511) === 0) this.core.busyUpkeep(); // a thread that never idles collects too
    this.core.role.worked();
    if (!this.core.claim(rec)) return;
    const id = rec[REC_ID]!;
    const h = this.core.handlerOf(rec);
    let arg: unknown;
    try {
      arg = this.core.takeArgument(rec);
    } catch (e) {
      this.core.fail(id, e, h);
      return;
    }
    this.inFlight++;
    this.abortPoll ??= setInterval(() => this.pollAborts(), ABORT_POLL_MS);
    const controller = new AbortController();
    this.controllers.set(id, controller);
    this.handlerOf.set(id, h);
    if (this.core.abortRequested(id)) controller.abort(new DOMException("The task was aborted by its caller", "AbortError"));
    const ctx: TaskContext = {
      pool: this.core.pool,
      threadIndex: this.core.index,
      tid: this.tid,
      signal: controller.signal,
      join() {
        throw new TypeError("ctx.join is for compute pools; in an async pool, await Promise.all instead");
      },
      pools: this.pools,
    };
    let result: unknown;
    try {
      result = this.context.run(id, this.core.handlers[h]!, arg, ctx);
    } catch (e) {
      this.settle(id, h, e, true);
      return;
    }
    Promise.resolve(result).then(
      (v) => this.settle(id, h, v, false),
      (e) => this.settle(id, h, e, true),
    );
  }

  private settle(id: number, h: number, value: unknown, threw: boolean): void {
    if (!this.handlerOf.delete(id)) return; // settled already (a fault failed it first)
    this.controllers.delete(id);
    if (threw) this.core.fail(id, value, h);
    else this.core.succeed(id, h, value);
    this.inFlight--;
    if (this.inFlight === 0) {
      clearInterval(this.abortPoll);
      this.abortPoll = undefined;
    }
    this.core.role.worked();
    const wake = this.slotFree;
    this.slotFree = undefined;
    wake?.();
  }
}
