/**
 * Main thread: the Worker threads of one pool. Starts each from `src/worker/pool-worker.ts`, hands
 * it the pool's shared memory once, waits for its handler list, notices when one dies and starts
 * a replacement in the same seat (same index, same deque: the records it left are still there for
 * the others to steal, and for the replacement). A standalone thread that retires says so first:
 * its exit frees the seat and is not a death.
 */
import { workerEntry } from "../platform/worker-entry.ts";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import type { PoolWorkerHello, PoolWorkerSetup } from "../common/pool-setup.ts";
import { PlacementError, ServeError, ThreadManagerError } from "../errors.ts";
import type { ServingAt } from "../worker/pool-server.ts";
import { threadName } from "../platform/placement.ts";

export interface PoolThread {
  readonly index: number;
  readonly worker: Worker;
  /** Main side of the shared-buffer registry channel. */
  readonly port: MessagePort;
  readonly tid: number;
  readonly handlers: string[];
  /** Async pools with `serve`: where this thread's server listens. */
  readonly serving?: ServingAt;
  /** Resolves when the thread has exited, for whatever reason. */
  readonly exited: Promise<number>;
}

export type SetupFor = (index: number, port: MessagePort) => PoolWorkerSetup;

export class WorkerSet {
  readonly seats: Array<PoolThread | undefined>;
  /** Every thread started and not yet exited, ready or not: stop() must not leave a starter behind. */
  private readonly alive = new Map<Worker, Promise<number>>();
  private stopping = false;
  /** Threads that retired (standalone, idle): their exit is not a death. */
  private readonly retiring = new Set<Worker>();
  /**
   * Seats with a thread still loading (not free for another start), with that thread's registry
   * port: mail posted while it loads (a buffer or string first sent then) waits in the port for it,
   * since its setup holds only what was registered before the thread was created.
   */
  private readonly loading = new Map<number, MessagePort>();
  /** Why a thread the pool itself terminated dies, for the errors of its tasks. */
  private readonly deathNotes = new Map<number, string>();

  constructor(
    private readonly pool: string,
    size: number,
    private readonly setupFor: SetupFor,
    /** A thread in a seat died; `unexpected`: the pool did not terminate it itself (a crash, process.exit). */
    private readonly onDeath: (index: number, detail: string, unexpected: boolean) => void,
    /** A standalone thread left the pool cleanly (its seat is still set while this runs). */
    private readonly onRetire: (thread: PoolThread) => void = () => {},
    /** Threads that run servers keep the process alive, as a Bun.serve on the main thread would. */
    private readonly keepAlive = false,
    /** Any thread exited, for whatever reason: its submitter token (its lanes in every pool are reaped). */
    private readonly onExit: (token: number) => void = () => {},
  ) {
    this.seats = new Array(size).fill(undefined);
  }

  /**
   * Starts the thread for seat `index`; resolves once its module is loaded. `unrefNow`: the thread
   * does not keep the process alive even while it loads (a standalone thread started on demand,
   * whose load might never end); a pool's first threads are unref()'d once ready, so start() can
   * be awaited in a program that has nothing else to do yet.
   */
  start(index: number, unrefNow = false): Promise<PoolThread> {
    const worker = new Worker(workerEntry("../worker/pool-worker.ts", import.meta.url));
    if (unrefNow) worker.unref();
    const { port1, port2 } = new MessageChannel();
    this.loading.set(index, port1);
    let exitCode: (code: number) => void = () => {};
    const exited = new Promise<number>((resolve) => (exitCode = resolve));
    this.alive.set(worker, exited);
    let lastError = "";
    worker.addEventListener("error", (e) => {
      lastError = (e as ErrorEvent).message ?? String(e);
    });
    const setup = this.setupFor(index, port2);
    return new Promise<PoolThread>((resolve, reject) => {
      let started = false;
      let loading: { module: string; serve?: boolean } | undefined;
      worker.addEventListener("close", (e) => {
        const code = (e as CloseEvent & { code?: number }).code ?? 0;
        this.alive.delete(worker);
        if (!started) this.loading.delete(index);
        exitCode(code);
        port1.close();
        this.onExit(setup.identity.token);
        if (!started) {
          // A thread whose event loop runs empty exits: a top-level await (or a serve factory's promise) that never settles ends here.
          const why = lastError ? `: ${lastError}` : loading ? ` while loading ${loading.module} (did a top-level await${loading.serve ? " or the default export's promise" : ""} never settle? a thread whose event loop runs empty exits)` : "";
          const message = `thread ${index} of pool "${this.pool}" exited while starting${why}`;
          reject(loading?.serve ? new ServeError(this.pool, loading.module, message) : new ThreadManagerError("ERR_WORKER_START", message));
        } else if (this.retiring.delete(worker)) {
          // retired: its seat was freed when it said so
        } else if (this.seats[index]?.worker === worker) {
          this.seats[index] = undefined;
          const why = this.deathNotes.get(index);
          this.deathNotes.delete(index);
          if (!this.stopping) this.onDeath(index, why ?? (lastError || `exit code ${code}`), why === undefined);
        }
      });
      worker.onmessage = (e: MessageEvent<PoolWorkerHello | { type: "stopped" }>) => {
        const msg = e.data;
        if (msg.type === "loading") {
          loading = msg;
        } else if (msg.type === "ready") {
          started = true;
          this.loading.delete(index);
          const thread: PoolThread = { index, worker, port: port1, tid: msg.tid, handlers: msg.handlers, exited, serving: msg.serving };
          this.seats[index] = thread;
          if (this.keepAlive) worker.ref();
          else worker.unref(); // an idle pool must not keep the process alive
          resolve(thread);
        } else if (msg.type === "failed") {
          worker.terminate();
          const refused = msg.placement;
          reject(refused
            ? new PlacementError(this.pool, threadName(this.pool, index), refused.operation, refused.errno)
            : msg.serve
              ? new ServeError(this.pool, msg.serve, `pool "${this.pool}" (thread ${index}): ${msg.error}`)
              : new ThreadManagerError("ERR_MODULE_LOAD", `pool "${this.pool}": ${msg.error}`));
        } else if (msg.type === "retired") {
          // Left the pool cleanly after its idle time (standalone): read its last mail, free the seat
          // (the thread holds nothing of it any more), then end it; not a death.
          if (this.seats[index]?.worker === worker) {
            this.onRetire(this.seats[index]!);
            this.seats[index] = undefined; // RETIRE-M1
          }
          this.retiring.add(worker);
          worker.terminate(); // RETIRE-M2
        } else if (msg.type === "stopped") {
          worker.terminate();
        }
      };
      worker.postMessage(setup, [port2]);
    });
  }

  /** Terminates the thread in seat `index`; its death is reported as `why`. False when the seat is empty. */
  terminate(index: number, why: string): boolean {
    const thread = this.seats[index];
    if (!thread) return false;
    this.deathNotes.set(index, why);
    thread.worker.terminate();
    return true;
  }

  /** No thread in the seat, and none loading for it. */
  isFree(index: number): boolean {
    return this.seats[index] === undefined && !this.loading.has(index);
  }

  live(): PoolThread[] {
    return this.seats.filter((t): t is PoolThread => t !== undefined);
  }

  /** Resolves once every thread alive now has exited. */
  async exits(): Promise<void> {
    await Promise.all(this.alive.values());
  }

  /** The registry port of the thread in seat `index`: the live one, or the one still loading there. */
  portOf(index: number): MessagePort | undefined {
    return this.seats[index]?.port ?? this.loading.get(index);
  }

  /** Terminates every thread, including ones still starting, and waits until each has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    const exits = [...this.alive];
    for (const [worker] of exits) worker.terminate();
    await Promise.all(exits.map(([, exited]) => exited));
  }
}
