/**
 * Park/unpark: no lost wake-up, and an idle pool burns no CPU. Workers park with Atomics.wait and
 * no timeout, so a lost wake-up leaves a round unfinished and the deadline catches it.
 */
import { describe, expect, test } from "bun:test";
import { IdleState, PoolQueues, Wake } from "../../src/shm/index.ts";
import { CTL_TAKEN, checkWord, mulberry32 } from "../fixtures/stress-common.ts";
import { processCpuMs } from "../pools/helpers.ts";
import { STRESS, runRoles, scale, waitAtLeast } from "./stress-harness.ts";

const ROUND_DEADLINE_MS = 2000;

function spinFor(micros: number): void {
  const until = performance.now() + micros / 1000;
  while (performance.now() < until) { /* busy: lands the push at a chosen moment */ }
}

async function lostWakeupRounds(workers: number, spinMicros: number, rounds: number) {
  const pool = PoolQueues.allocate({ workers, recordWords: 4, injectorCapacity: 16, dequeCapacity: 16 });
  const rnd = mulberry32(spinMicros * 31 + workers);
  let missed = -1;
  const specs = Array.from({ length: workers }, (_, index) => ({ role: "finder", index, queues: pool.refs, spinMicros, batch: 1 }));
  const o = await runRoles(rounds, specs, {
    timeoutMs: STRESS ? 600_000 : 60_000,
    drive: async (ctl) => {
      const rec = new Int32Array(4);
      for (let r = 0; r < rounds; r++) {
        // Land the push anywhere from "still searching" to "just parked": the window the
        // lost-wake-up race lives in is the end of the spin.
        spinFor(rnd() * (spinMicros + 8));
        rec.set([r, checkWord(r), 0, 0]);
        expect(pool.submit(rec)).toBe(true);
        if (!waitAtLeast(ctl, CTL_TAKEN, r + 1, ROUND_DEADLINE_MS, 2)) {
          missed = r;
          break;
        }
      }
      pool.shutdown();
    },
  });
  return { o, missed, pool };
}

describe("no lost wake-up", () => {
  const rounds = scale(3000, 50_000);
  for (const [workers, spin] of [[1, 0], [2, 0], [2, 20], [3, 5]] as const) {
    test(`${workers} worker(s), ${spin} us spin: ${rounds} pushes racing the park, each taken before ${ROUND_DEADLINE_MS} ms`, async () => {
      const { o, missed, pool } = await lostWakeupRounds(workers, spin, rounds);
      expect(missed).toBe(-1);
      expect({ lost: o.lost, duplicated: o.duplicated, corrupt: o.corrupt }).toEqual({ lost: 0, duplicated: 0, corrupt: 0 });
      expect(pool.idle.searching()).toBe(0);
    }, STRESS ? 600_000 : 60_000);
  }
});

describe("idle pool", () => {
  test.skipIf(process.platform !== "linux")("parked workers burn no CPU", async () => {
    const workers = 2;
    const pool = PoolQueues.allocate({ workers, recordWords: 4 });
    const specs = Array.from({ length: workers }, (_, index) => ({ role: "finder", index, queues: pool.refs, spinMicros: 50, batch: 4 }));
    await runRoles(1, specs, {
      timeoutMs: 30_000,
      drive: async (ctl) => {
        pool.submit(Int32Array.of(0, checkWord(0), 0, 0));
        expect(waitAtLeast(ctl, CTL_TAKEN, 1, 5000)).toBe(true);
        const deadline = performance.now() + 5000;
        while (pool.idle.sleeping() < workers && performance.now() < deadline) await Bun.sleep(1);
        expect(pool.idle.sleeping()).toBe(workers);
        const before = processCpuMs();
        await Bun.sleep(500);
        const used = processCpuMs() - before;
        // Two spinning workers would use ~1000 ms here; parked ones ~0 (allow timer and GC noise).
        expect(used).toBeLessThan(100);
        pool.shutdown();
      },
    });
  });
});

describe("idle state, single thread", () => {
  test("notifyOne wakes nobody while nobody sleeps or someone searches", () => {
    const idle = IdleState.allocate(2, () => true);
    expect(idle.notifyOne()).toBe(false);
    expect(idle.tryStartSearching()).toBe(true);
    expect(idle.tryStartSearching()).toBe(false); // at most max(1, 2/2) searchers
    expect(idle.stopSearching()).toBe(true); // last searcher, and the probe says work exists
    expect(idle.searching()).toBe(0);
  });

  test("park is cancelled when work is visible, and a timed park times out", () => {
    let work = true;
    const idle = IdleState.allocate(1, () => work);
    expect(idle.park(0)).toBe(Wake.Cancelled);
    expect(idle.sleeping()).toBe(0);
    work = false;
    expect(idle.park(0, 5)).toBe(Wake.TimedOut);
    expect(idle.sleeping()).toBe(0);
    idle.shutdown();
    expect(idle.park(0)).toBe(Wake.Shutdown);
  });

  test("park(until) is cancelled when the condition already holds; unpark wakes only a parked worker", () => {
    let done = true;
    const idle = IdleState.allocate(2, () => false);
    expect(idle.park(0, Infinity, () => done)).toBe(Wake.Cancelled);
    expect(idle.unpark(1)).toBe(false); // not parked: nothing to do
    done = false;
    expect(idle.park(0, 5, () => done)).toBe(Wake.TimedOut);
    expect(idle.sleeping()).toBe(0);
  });

  test("bad worker counts name the parameter", () => {
    expect(() => IdleState.allocate(0, () => false)).toThrow(/idle.workers must be an integer/);
  });
});
