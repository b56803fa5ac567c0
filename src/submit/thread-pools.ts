/**
 * Pool thread or native thread: `ctx.pools`, the serve factory's `pools`, and what `pool:` imports
 * resolve to inside a thread. The same lookups as the main thread's ThreadManager (`[mapping]`,
 * then `mapping.default`, PoolNotFoundError), handing out PoolClients whose run() goes through a
 * Submitter of this thread's own: a lane taken in the target pool on first use
 * (src/shm/submitter-lanes.ts), so completions come straight back here. The main thread gives
 * the lane back after this thread exits, once nothing it left is in flight.
 */
import { PayloadStore } from "../common/payload-store.ts";
import { PoolControl } from "../common/pool-control.ts";
import { SharedObjects } from "../common/shared-objects.ts";
import { TaskTimings } from "../common/task-timings.ts";
import { PoolBusyError, PoolNotFoundError, ThreadManagerError } from "../errors.ts";
import { lookupPool } from "../common/pool-lookup.ts";
import { Injector } from "../shm/injector.ts";
import { PoolQueues } from "../shm/pool-queues.ts";
import { SubmitterLanes } from "../shm/submitter-lanes.ts";
import { PoolClient } from "./pool-client.ts";
import type { MapOptions } from "./task-batch.ts";
import { awaitHandlerNames, readHandlerNames, type PoolDirectory, type SubmitterIdentity, type TargetSetup } from "./pool-directory.ts";
import { Submitter } from "./submitter.ts";

/** Mail owner number of a thread submitter's (unused) registry: no peer ever sees it. */
const MAILLESS_OWNER = 1023;
/** How long a `pool:` import inside a thread waits for the pool's first thread to load. */
const NAMES_WAIT_MS = 30_000;

type Kind = "compute" | "async";

export class ThreadPools {
  private readonly clients = new Map<string, PoolClient>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly directory: PoolDirectory,
    readonly self: SubmitterIdentity,
    /** A compute thread: its handlers are synchronous and cannot wait for a pool; calls throw ERR_SYNC_HANDLER. */
    private readonly synchronous?: string,
  ) {}

  /** The compute pool `name` (or what [mapping] maps it to); throws PoolNotFoundError. */
  compute(name: string): PoolClient {
    return this.lookup(name, "compute", true)!;
  }

  async(name: string): PoolClient {
    return this.lookup(name, "async", true)!;
  }

  tryCompute(name: string): PoolClient | undefined {
    return this.lookup(name, "compute", false);
  }

  tryAsync(name: string): PoolClient | undefined {
    return this.lookup(name, "async", false);
  }

  /** Native pools start threads from the main thread only. */
  native(name: string): never {
    const known = this.directory.natives.includes(this.directory.mapping[name] ?? name);
    if (!known) throw new PoolNotFoundError(name, "native", this.directory.natives);
    throw new ThreadManagerError("ERR_NATIVE_FROM_THREAD", `native pool "${name}": threads are spawned from the main thread only (tm.native("${name}").spawn(...)); from a pool thread, hand the request to the main thread`);
  }

  /**
   * The client of compute or async pool `name` for a `pool:` import: blocks this thread (it is loading
   * a module) until the pool's first thread has said which handlers it has.
   */
  forImport(name: string): PoolClient {
    const client = this.lookup(name, "compute", false) ?? this.lookup(name, "async", false);
    if (!client) throw new PoolNotFoundError(name, "compute or async", this.directory.pools.map((p) => p.name));
    const target = this.directory.pools.find((p) => p.name === client.name)!;
    const names = awaitHandlerNames(target.names, NAMES_WAIT_MS);
    if (!names) {
      throw new ThreadManagerError("ERR_NO_HANDLERS", `import "pool:${name}": pool "${client.name}" has not loaded its module after ${NAMES_WAIT_MS / 1000} s (two pools whose modules import each other with pool: wait for each other: use ctx.pools inside handlers instead)`);
    }
    client.learnHandlers(names);
    return client;
  }

  private lookup(name: string, kind: Kind, strict: boolean): PoolClient | undefined {
    const { mapping, pools } = this.directory;
    const target = lookupPool<TargetSetup>({
      mapping,
      find: (n, k) => pools.find((p) => p.name === n && p.kind === k),
      kindOf: (n) => pools.find((p) => p.name === n)?.kind,
      namesOf: (k) => pools.filter((p) => p.kind === k).map((p) => p.name),
    }, name, kind, strict, this.warned);
    return target && this.clientOf(target);
  }

  private clientOf(target: TargetSetup): PoolClient {
    let client = this.clients.get(target.name);
    if (!client) {
      client = new LaneClient(target, this.self, this.synchronous);
      this.clients.set(target.name, client);
    }
    return client;
  }
}

/** A PoolClient whose lane is taken on first use and whose handler names are read when first needed. */
class LaneClient extends PoolClient {
  constructor(
    private readonly target: TargetSetup,
    private readonly identity: SubmitterIdentity,
    private readonly synchronous: string | undefined,
  ) {
    super(unclaimed(target), target.threads, target.kind === "compute");
  }

  override run<T = unknown>(handler: string, arg?: unknown, options?: Parameters<PoolClient["run"]>[2]): Promise<T> {
    const ready = this.ready();
    return ready ? Promise.reject(ready) : super.run<T>(handler, arg, options);
  }

  override map(handler: string, args: Iterable<unknown>, options?: MapOptions): Promise<any[]> {
    const ready = this.ready();
    return ready ? Promise.reject(ready) : super.map(handler, args, options as MapOptions & { settle?: false });
  }

  override parallelFor<T = number | undefined>(...args: Parameters<PoolClient["parallelFor"]>): Promise<T> {
    const ready = this.ready();
    return ready ? Promise.reject(ready) : super.parallelFor<T>(...args);
  }

  /** Takes a lane and reads the handler names if not done yet; an error to reject with, or undefined. */
  private ready(): Error | undefined {
    if (this.synchronous !== undefined) throw syncHandlerError(this.synchronous); // thrown: a sync handler would never see a rejection
    if (this.handlers.length === 0) {
      const names = readHandlerNames(this.target.names);
      if (names) this.learnHandlers(names);
    }
    if (this.submitter.lane >= 0) return undefined;
    const lanes = SubmitterLanes.attach(this.target.lanes);
    const lane = lanes.claim(this.identity.token);
    if (lane < 0) return new PoolBusyError(this.target.name, lanes.count - 1, "threads submitting to it (every submitter lane is held)");
    this.sub = laneSubmitter(this.target, lanes, lane);
    return undefined;
  }
}

/** A stand-in until the first call takes a lane (lane -1: nothing submitted through it). */
function unclaimed(target: TargetSetup): Submitter {
  return { name: target.name, lane: -1 } as Submitter;
}

function laneSubmitter(t: TargetSetup, lanes: SubmitterLanes, lane: number): Submitter {
  const control = PoolControl.attach(t.control);
  const timings = TaskTimings.attach(t.timings.buffer, t.timings.slots, t.timings.seats, t.timings.mainOrigin);
  return new Submitter({
    target: { name: t.name, queues: PoolQueues.attach(t.queues), states: control.states, lanes, timings, countArrivals: (n) => control.countArrivals(n) },
    lane,
    completions: Injector.attach(t.rings[lane]!),
    doorbell: lanes.doorbell(lane),
    store: new PayloadStore(t.segment),
    shared: new SharedObjects(MAILLESS_OWNER, noMail),
    maxPayload: t.maxPayload,
    mailless: true,
  });
}

const noMail = {
  broadcast(): void {
    throw new Error("a pool thread's submitter sends no mail");
  },
  send(): void {
    throw new Error("a pool thread's submitter sends no mail");
  },
  poll(): undefined {
    return undefined;
  },
};

/** What a compute handler gets when it tries to call a pool (ctx.pools, or a `pool:` import). */
export function syncHandlerError(pool: string): ThreadManagerError {
  return new ThreadManagerError("ERR_SYNC_HANDLER", `pool "${pool}": a compute handler is synchronous and cannot wait for another pool: call other pools from an async pool's handler (or the main thread), and split work inside this pool with ctx.join or parallelFor`);
}
