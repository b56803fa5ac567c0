/**
 * Peer worker pools that benchmarks run side by side with bun-thread-manager: piscina, tinypool,
 * poolifier (FixedThreadPool + ThreadWorker), workerpool (workerType "web") and a hand-rolled pool
 * of Bun Workers over postMessage. Every peer gets exactly `threads` worker threads and runs the
 * same handlers (bench/fixtures/peers/handlers.ts): add([a, b]), fib(n),
 * sumRange({ sab, start, end }), echo(x).
 *
 * Also the "idle round trip" floor: an Atomics.wait / Atomics.notify ping-pong with one Worker.
 *
 * Every pool returned is warmed up (all its threads started and each handler run once); close it.
 */
import { fileURLToPath } from "node:url";
import Piscina from "piscina";
import Tinypool from "tinypool";
import { FixedThreadPool } from "poolifier";
import workerpool from "workerpool";
import type { HandlerName } from "../fixtures/peers/handlers.ts";

export type { HandlerName };

export type PeerPool = {
  name: string;
  /** `transfer`: moved, not copied (raw postMessage and piscina; the others have no transfer list). */
  run(handler: HandlerName, arg: any, transfer?: ArrayBuffer[]): Promise<any>;
  /** The raw pool's hand-rolled batch: one message per item, one promise for all (others have none). */
  map?(handler: HandlerName, args: any[]): Promise<any[]>;
  close(): Promise<void>;
};

const fixtureUrl = (file: string) => new URL(`../fixtures/peers/${file}`, import.meta.url);
const fixturePath = (file: string) => fileURLToPath(fixtureUrl(file));

function createPiscina(threads: number): PeerPool {
  const pool = new Piscina({
    filename: fixturePath("piscina.worker.ts"),
    minThreads: threads,
    maxThreads: threads,
  });
  return {
    name: "piscina",
    run: (name, arg, transfer) => pool.run(arg, transfer ? { name, transferList: transfer as never } : { name }),
    close: () => pool.destroy(),
  };
}

function createTinypool(threads: number): PeerPool {
  const pool = new Tinypool({
    filename: fixturePath("tinypool.worker.ts"),
    minThreads: threads,
    maxThreads: threads,
  });
  return {
    name: "tinypool",
    run: (name, arg) => pool.run(arg, { name }),
    close: () => pool.destroy(),
  };
}

async function createPoolifier(threads: number): Promise<PeerPool> {
  const pool = new FixedThreadPool<any, any>(threads, fixturePath("poolifier.worker.ts"), {
    errorHandler: (e) => console.error("poolifier worker error:", e),
  });
  if (!pool.info.ready) await new Promise<void>((resolve) => pool.emitter?.once("ready", () => resolve()));
  return {
    name: "poolifier",
    run: (name, arg) => pool.execute(arg, name),
    close: () => pool.destroy(),
  };
}

function createWorkerpool(threads: number): PeerPool {
  // The default worker type (child processes / auto) hangs under Bun; "web" uses Bun's Worker.
  const pool = workerpool.pool(fixturePath("workerpool.worker.ts"), {
    workerType: "web",
    minWorkers: threads,
    maxWorkers: threads,
  });
  return {
    name: "workerpool",
    run: (name, arg) => pool.exec(name, [arg]) as unknown as Promise<any>,
    close: async () => {
      await pool.terminate();
    },
  };
}

type Pending = { resolve(v: unknown): void; reject(e: unknown): void };

/**
 * The baseline a user would hand-roll: `threads` Bun Workers, one postMessage per task carrying an
 * id, round-robin dispatch, replies matched to their promise by id.
 */
async function createRawPool(threads: number): Promise<PeerPool> {
  const url = fixtureUrl("raw.worker.ts");
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let rr = 0;
  const fail = (err: unknown) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const workers = await Promise.all(
    Array.from({ length: threads }, () => {
      const w = new Worker(url);
      w.onmessage = (e: MessageEvent) => {
        const m = e.data as { id: number; ok: boolean; value?: unknown; error?: string };
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error));
      };
      w.onerror = (e: ErrorEvent) => fail(e.error ?? new Error(e.message));
      return new Promise<Worker>((resolve) => w.addEventListener("open", () => resolve(w), { once: true }));
    }),
  );
  return {
    name: "raw postMessage",
    run(h, arg, transfer) {
      const id = nextId++;
      const w = workers[rr]!;
      rr = rr + 1 === workers.length ? 0 : rr + 1;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ id, h, arg }, transfer ?? []);
      });
    },
    map(h, args) {
      // One message per item, as run(); replies land in one array and one promise settles.
      const out = new Array(args.length);
      let left = args.length;
      const done = Promise.withResolvers<any[]>();
      if (left === 0) done.resolve(out);
      for (let i = 0; i < args.length; i++) {
        const id = nextId++;
        const w = workers[rr]!;
        rr = rr + 1 === workers.length ? 0 : rr + 1;
        pending.set(id, {
          resolve: (v) => {
            out[i] = v;
            if (--left === 0) done.resolve(out);
          },
          reject: done.reject,
        });
        w.postMessage({ id, h, arg: args[i] });
      }
      return done.promise;
    },
    async close() {
      fail(new Error("raw pool closed"));
      for (const w of workers) w.terminate();
    },
  };
}

/** Runs enough tasks that every thread of the pool has started and each handler has run. */
async function warmUp(pool: PeerPool, threads: number): Promise<void> {
  const sab = new SharedArrayBuffer(8 * 4);
  const tasks: Promise<unknown>[] = [];
  for (let i = 0; i < threads * 4; i++) {
    tasks.push(pool.run("add", [i, 1]), pool.run("fib", 10), pool.run("sumRange", { sab, start: 0, end: 4 }));
  }
  await Promise.all(tasks);
}

export type PeerName = "piscina" | "tinypool" | "poolifier" | "workerpool" | "raw postMessage";

/** One peer pool with exactly `threads` worker threads, warmed up. Close it. */
export async function createPeer(name: PeerName, threads = 2): Promise<PeerPool> {
  const pool =
    name === "piscina" ? createPiscina(threads)
    : name === "tinypool" ? createTinypool(threads)
    : name === "poolifier" ? await createPoolifier(threads)
    : name === "workerpool" ? createWorkerpool(threads)
    : await createRawPool(threads);
  try {
    await warmUp(pool, threads);
  } catch (err) {
    await pool.close().catch(() => {});
    throw err;
  }
  return pool;
}

/** One pool of each peer, each with exactly `threads` worker threads, warmed up. Close them all. */
export async function createPeers(threads = 2): Promise<PeerPool[]> {
  const pools: PeerPool[] = [];
  try {
    pools.push(createPiscina(threads));
    pools.push(createTinypool(threads));
    pools.push(await createPoolifier(threads));
    pools.push(createWorkerpool(threads));
    pools.push(await createRawPool(threads));
    for (const p of pools) await warmUp(p, threads);
  } catch (err) {
    await Promise.allSettled(pools.map((p) => p.close()));
    throw err;
  }
  return pools;
}

/**
 * Raw Atomics ping-pong with one Bun Worker over a SharedArrayBuffer: the floors of an idle round
 * trip. Both store 1 + notify; the worker (blocked in Atomics.wait itself, no spinning) stores 0 +
 * notifies back. `roundTrip` blocks the calling thread in Atomics.wait until then (nothing is
 * faster); `roundTripAsync` awaits Atomics.waitAsync instead, as any call that returns a promise
 * must come back through the caller's event loop (the floor of an awaitable round trip).
 */
export async function createPingPong(): Promise<{ roundTrip(): void; roundTripAsync(): Promise<void>; close(): void }> {
  const sab = new SharedArrayBuffer(4);
  const flag = new Int32Array(sab);
  const w = new Worker(fixtureUrl("pingpong.worker.ts"));
  await new Promise<void>((resolve, reject) => {
    w.onmessage = () => resolve();
    w.onerror = (e: ErrorEvent) => reject(e.error ?? new Error(e.message));
    w.postMessage(sab);
  });
  w.onmessage = null;
  let closed = false;
  return {
    roundTrip() {
      if (closed) throw new Error("ping-pong closed");
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      while (Atomics.load(flag, 0) === 1) Atomics.wait(flag, 0, 1);
    },
    async roundTripAsync() {
      if (closed) throw new Error("ping-pong closed");
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      while (Atomics.load(flag, 0) === 1) {
        const w = Atomics.waitAsync(flag, 0, 1);
        if (w.async) await w.value;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      Atomics.store(flag, 0, 2);
      Atomics.notify(flag, 0);
      w.terminate();
    },
  };
}
