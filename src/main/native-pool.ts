/**
 * Main thread: a native pool (std::thread-like): long-lived threads, each running one module,
 * placed as the pool says, at most `max_threads` at once.
 *
 * @example
 * const t = tm.native("bg").spawn(new URL("./poller.ts", import.meta.url), { every: 100 });
 * console.log(t.name, await t.tid); await t.exited;
 */
import { workerEntry } from "../platform/worker-entry.ts";
import { pathToFileURL } from "node:url";
import { coresForThread, type PlacementPlan } from "../config/types.ts";
import { PlacementError, PoolBusyError, PoolClosedError, ThreadManagerError } from "../errors.ts";
import { threadPlacement } from "../platform/placement.ts";
import type { NativeSetup } from "../worker/native-worker.ts";
import type { PoolDirectoryHub } from "./pool-directory-hub.ts";

/** A running (or finished) native thread. */
export interface NativeThread {
  /** `{pool}-{seat}`, as the kernel shows it. */
  readonly name: string;
  /** Kernel thread id, once the thread has placed itself. Rejects with PlacementError if it could not. */
  readonly tid: Promise<number>;
  /** Exit code: 0 when the module's default export returned, 1 when it threw or placement failed. */
  readonly exited: Promise<number>;
  /** Stops the thread. */
  terminate(): void;
}

interface Seat {
  thread: NativeThread;
  worker: Worker;
  tid: number;
  exitedAt?: number;
}

export class NativePool {
  readonly kind = "native";
  private readonly seats: Array<Seat | undefined>;
  private closed = false;

  constructor(
    readonly name: string,
    readonly maxThreads: number,
    readonly placement: PlacementPlan,
    /** The manager's pools, which these threads may call (ctx.pools); none for a pool made alone. */
    private readonly hub?: PoolDirectoryHub,
  ) {
    this.seats = new Array(maxThreads).fill(undefined);
  }

  /** Threads running now. */
  get running(): number {
    return this.seats.filter((s) => s !== undefined).length;
  }

  /** Starts `module` (its default export gets `data`) on a new thread of this pool. */
  spawn(module: string | URL, data?: unknown): NativeThread {
    if (this.closed) throw new PoolClosedError(this.name);
    const seat = this.seats.indexOf(undefined);
    if (seat < 0) throw new PoolBusyError(this.name, this.maxThreads, "threads running (max_threads); wait for one to exit");
    const href = module instanceof URL ? module.href : module.startsWith("file:") ? module : pathToFileURL(module).href;
    const placement = threadPlacement(this.name, this.placement, seat, coresForThread(this.placement, seat));
    const worker = new Worker(workerEntry("../worker/native-worker.ts", import.meta.url));
    const tid = Promise.withResolvers<number>();
    const exited = Promise.withResolvers<number>();
    tid.promise.catch(() => {}); // callers who only await `exited` must not see an unhandled rejection
    let lastError: string | undefined;
    const entry: Seat = {
      worker,
      tid: 0,
      thread: { name: placement.name, tid: tid.promise, exited: exited.promise, terminate: () => worker.terminate() },
    };
    worker.onmessage = (e: MessageEvent) => {
      const m = e.data;
      if (m.type === "started") {
        entry.tid = m.tid;
        tid.resolve(m.tid);
      } else if (m.type === "failed") {
        tid.reject(new PlacementError(this.name, placement.name, m.placement.operation, m.placement.errno));
      } else if (m.type === "error") {
        lastError = m.error;
      }
    };
    const identity = this.hub?.newIdentity(placement.name) ?? { token: 0, name: placement.name };
    worker.addEventListener("close", (e) => {
      const code = (e as CloseEvent & { code?: number }).code ?? 0;
      if (this.seats[seat] === entry) this.seats[seat] = undefined;
      if (identity.token !== 0) this.hub?.exited(identity.token); // its lanes in every pool are reaped
      tid.reject(new ThreadManagerError("ERR_NATIVE_EXITED", `native thread ${placement.name} exited before it started${lastError ? `: ${lastError}` : ""}`));
      exited.resolve(lastError && code === 0 ? 1 : code);
    });
    this.seats[seat] = entry;
    const directory = this.hub?.directory ?? { pools: [], mapping: {}, natives: [this.name] };
    const setup: NativeSetup = { placement, module: href, data, directory, identity };
    worker.postMessage(setup);
    return entry.thread;
  }

  /** Live threads with their kernel tids (0 until started). */
  threadList(): Array<{ index: number; name: string; tid: number }> {
    return this.seats.flatMap((s, index) => (s ? [{ index, name: s.thread.name, tid: s.tid }] : []));
  }

  /** Terminates every thread and waits until they have exited. */
  async close(): Promise<void> {
    this.closed = true;
    const live = this.seats.filter((s): s is Seat => s !== undefined);
    for (const s of live) s.worker.terminate();
    await Promise.all(live.map((s) => s.thread.exited));
  }
}
