/**
 * Main thread: starts and stops the pool-manager thread (src/scaling/pool-manager-worker.ts) for
 * every pool that scales, and starts the standalone threads it asks for (a Worker is started from
 * the main thread; the pool does it one at a time).
 */
import { workerEntry } from "../platform/worker-entry.ts";
import type { PlacementPlan } from "../config/types.ts";
import { PlacementError, ThreadManagerError } from "../errors.ts";
import { allowedCores } from "../platform/cpus.ts";
import type { PoolManagerMessage, PoolManagerSetup } from "../scaling/pool-manager-worker.ts";
import type { TaskPool } from "./task-pool.ts";

export const MANAGER_THREAD_NAME = "pool-manager";

export class PoolManagerThread {
  private constructor(
    private readonly worker: Worker,
    /** The manager's kernel thread id. */
    readonly tid: number,
    /** Stored 1 and notified to stop the manager's loop. */
    private readonly stopWord: Int32Array,
    /** Resolves when the thread has exited. */
    private readonly exited: Promise<void>,
  ) {}

  /**
   * Starts the manager for `pools` (those with scaling), placed on `placement` ([runtime]) or the
   * process's allowed cores. Undefined when no pool scales.
   */
  static async start(pools: TaskPool[], placement: PlacementPlan | undefined): Promise<PoolManagerThread | undefined> {
    const scaled = pools.filter((p) => p.seats.scaling !== undefined);
    if (scaled.length === 0) return undefined;
    const byName = new Map(scaled.map((p) => [p.name, p]));
    const worker = new Worker(workerEntry("../scaling/pool-manager-worker.ts", import.meta.url));
    const exited = new Promise<void>((resolve) => worker.addEventListener("close", () => resolve()));
    const stop = new SharedArrayBuffer(4);
    const setup: PoolManagerSetup = {
      stop,
      pools: scaled.map((p) => p.seats.refs()),
      placement: {
        pool: "(manager)", name: MANAGER_THREAD_NAME, cores: placement?.cores ?? allowedCores(),
        policy: placement?.policy ?? "OTHER", nice: placement?.nice ?? null, priority: placement?.priority ?? 0,
      },
    };
    const tid = await new Promise<number>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<PoolManagerMessage>) => {
        const msg = e.data;
        if (msg.type === "ready") resolve(msg.tid);
        else if (msg.type === "failed") reject(new PlacementError("(manager)", MANAGER_THREAD_NAME, msg.refused.operation, msg.refused.errno));
        else if (msg.type === "spawn") byName.get(msg.pool)?.seats.request(msg.n, msg.at);
        else if (msg.type === "stopped") worker.terminate(); // told to stop, or every pool closed
      };
      worker.addEventListener("close", () => reject(new ThreadManagerError("ERR_WORKER_START", "the pool-manager thread exited while starting")));
      worker.postMessage(setup);
    }).catch(async (e) => {
      worker.terminate();
      throw e;
    });
    worker.unref();
    return new PoolManagerThread(worker, tid, new Int32Array(stop), exited);
  }

  /** Stops ticking and ends the thread; resolves once it has exited (at once if it had: every pool closed). */
  stop(): Promise<void> {
    Atomics.store(this.stopWord, 0, 1);
    Atomics.notify(this.stopWord, 0);
    const backstop = setTimeout(() => this.worker.terminate(), 1000); // it answers "stopped" at once
    return this.exited.finally(() => clearTimeout(backstop));
  }
}
