/**
 * Entry script of the pool-manager thread: one Worker for the whole ThreadManager, named
 * `pool-manager`. Every `interval_ms` (per pool) it samples the pool's shared words, runs the
 * scaling rule, opens dynamic threads' gates itself, and asks the main thread (one message) for
 * standalone threads. It never waits on the main thread: a busy or blocked main thread delays
 * spawns, never an unpark.
 *
 * The loop is synchronous: between ticks the thread sleeps in `Atomics.wait` on its stop word
 * until the next pool is due. A sleep there costs a futex wake-up; an event-loop timer in a Bun
 * Worker cost ~150 us of CPU per wake-up (measured), which made the manager the largest idle cost.
 */
import { gettid } from "../platform/libc.ts";
import { placeSelf, type PlacementFailure, type ThreadPlacement } from "../platform/placement.ts";
import { PoolSampler, type ScaledPoolRefs } from "./pool-sampler.ts";

declare const self: Worker;

/** Main -> manager, once. */
export interface PoolManagerSetup {
  pools: ScaledPoolRefs[];
  placement: ThreadPlacement;
  /** One Int32 word: the main thread stores 1 and notifies to stop the manager. */
  stop: SharedArrayBuffer;
}

/** Manager -> main. */
export type PoolManagerMessage =
  | { type: "ready"; tid: number }
  | { type: "failed"; refused: PlacementFailure }
  /** The pool wants `n` more standalone threads (already added to POOL_SPAWNS_WANTED); `at`: epoch ms of the tick. */
  | { type: "spawn"; pool: string; n: number; at: number }
  | { type: "stopped" };

function post(msg: PoolManagerMessage): void {
  self.postMessage(msg);
}

self.onmessage = (event: MessageEvent<PoolManagerSetup>) => {
  self.onmessage = null;
  const setup = event.data;
  const refused = placeSelf(setup.placement);
  if (refused) return post({ type: "failed", refused });
  const samplers = setup.pools.map((refs) => new PoolSampler(refs));
  post({ type: "ready", tid: gettid() });
  manage(samplers, new Int32Array(setup.stop));
  post({ type: "stopped" });
};

/** Ticks every pool on its own interval until the stop word is set or every pool has closed. */
function manage(samplers: PoolSampler[], stop: Int32Array): void {
  const spawn = (pool: string, n: number) => post({ type: "spawn", pool, n, at: performance.timeOrigin + performance.now() });
  const due = samplers.map(() => performance.now());
  for (;;) {
    let next = Infinity;
    for (let i = 0; i < samplers.length; i++) {
      const s = samplers[i]!;
      if (s.closed) continue;
      const now = performance.now();
      if (now >= due[i]!) {
        s.tick(now, spawn);
        // The next tick one interval on; a late tick (the thread was descheduled) does not cause a burst.
        due[i] = Math.max(due[i]! + s.intervalMs, now + s.intervalMs / 2);
      }
      next = Math.min(next, due[i]!);
    }
    if (next === Infinity) return; // every pool closed
    const wait = next - performance.now();
    if (wait > 0) Atomics.wait(stop, 0, 0, wait);
    if (Atomics.load(stop, 0) !== 0) return;
  }
}
