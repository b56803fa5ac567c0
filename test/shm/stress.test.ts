/**
 * Multi-worker stress of the shared-memory core, with real Bun Workers. Every item carries a check
 * word and is marked when taken; each test asserts 0 lost, 0 duplicated, 0 torn records.
 * Quick counts by default; STRESS=1 pushes 10 million items through the injector and the deques.
 */
import { describe, expect, test } from "bun:test";
import { Injector, PoolQueues, allocateDeque } from "../../src/shm/index.ts";
import { CTL_TAKEN, checkWord } from "../fixtures/stress-common.ts";
import { STRESS, runRoles, scale, waitAtLeast } from "./stress-harness.ts";

const NEAR_WRAP = 0x7fffffff - 5000; // positions cross int32 max early in every run

function expectExactlyOnce(o: { lost: number; duplicated: number; corrupt: number; taken: number }, total: number) {
  expect({ lost: o.lost, duplicated: o.duplicated, corrupt: o.corrupt, taken: o.taken }).toEqual({
    lost: 0, duplicated: 0, corrupt: 0, taken: total,
  });
}

describe("injector: 2 producers, 2 consumers", () => {
  for (const capacity of [8, 1024]) {
    const total = scale(200_000, 10_000_000);
    test(`capacity ${capacity}: ${total} items, each taken exactly once`, async () => {
      const injector = Injector.init(
        { buffer: new SharedArrayBuffer(Injector.bytesFor(capacity, 2)), byteOffset: 0 },
        { capacity, recordWords: 2, initialPosition: NEAR_WRAP },
      ).ref;
      const half = total / 2;
      const o = await runRoles(total, [
        { role: "inj-produce", injector, from: 0, to: half, batchMax: 8 },
        { role: "inj-produce", injector, from: half, to: total, batchMax: 1 },
        { role: "inj-consume", injector, batchMax: 8 },
        { role: "inj-consume", injector, batchMax: 1 },
      ], { timeoutMs: STRESS ? 600_000 : 60_000 });
      expectExactlyOnce(o, total);
    }, STRESS ? 600_000 : 60_000);
  }
});

describe("deque: owner pushing, popping and taking the oldest, 2 thieves", () => {
  for (const capacity of [8, 256]) {
    const total = scale(200_000, 10_000_000);
    test(`capacity ${capacity}: ${total} items, each taken exactly once`, async () => {
      const deque = allocateDeque({ capacity, recordWords: 2, initialPosition: NEAR_WRAP });
      const o = await runRoles(total, [
        { role: "deque-owner", deque, popRatio: 0.3 },
        { role: "deque-thief", deque },
        { role: "deque-thief", deque },
      ], { timeoutMs: STRESS ? 600_000 : 60_000 });
      expectExactlyOnce(o, total);
      const stolen = o.results.filter((r) => r.role === "deque-thief").reduce((n, r) => n + r.taken, 0);
      expect(stolen).toBeGreaterThan(0); // the thieves really competed
    }, STRESS ? 600_000 : 60_000);
  }
});

describe("stampede: owner fills, owner and 3 thieves race to empty it", () => {
  const perRound = 4096;
  const rounds = scale(30, 600);
  test(`${rounds} rounds of ${perRound}`, async () => {
    const deque = allocateDeque({ capacity: perRound, recordWords: 2, initialPosition: NEAR_WRAP });
    const total = rounds * perRound;
    const o = await runRoles(total, [
      { role: "stampede-owner", deque, rounds, perRound },
      { role: "stampede-thief", deque, rounds, perRound },
      { role: "stampede-thief", deque, rounds, perRound },
      { role: "stampede-thief", deque, rounds, perRound },
    ], { timeoutMs: STRESS ? 600_000 : 60_000 });
    expectExactlyOnce(o, total);
  }, STRESS ? 600_000 : 60_000);
});

/** Main seeds root records into the injector; workers push children on their deques (tiny, so they spill). */
/** `byName`: every other root goes to one worker's inbox (submitTo, round robin) instead of the injector. */
async function runTree(workers: number, roots: number, depth: number, dequeCapacity: number, spinMicros: number, byName = false) {
  const treeSize = 2 ** (depth + 1) - 1;
  const total = roots * treeSize;
  const pool = PoolQueues.allocate({ workers, recordWords: 4, injectorCapacity: 64, dequeCapacity, inboxCapacity: 4, initialPosition: NEAR_WRAP });
  const specs = Array.from({ length: workers }, (_, index) => ({
    role: "finder", index, queues: pool.refs, spinMicros, batch: 4,
  }));
  const o = await runRoles(total, specs, {
    timeoutMs: STRESS ? 600_000 : 60_000,
    drive: async (ctl) => {
      const rec = new Int32Array(4);
      for (let r = 0; r < roots; r++) {
        const id = r * treeSize;
        rec.set([id, checkWord(id), depth, 0]);
        const to = byName && r % 2 === 1 ? (r >> 1) % workers : -1;
        while (!(to < 0 ? pool.submit(rec) : pool.submitTo(to, rec))) await Bun.sleep(0); // full: let workers drain it
      }
      while (!waitAtLeast(ctl, CTL_TAKEN, total, 0)) await Bun.sleep(1);
      pool.shutdown();
    },
  });
  return { o, total, pool };
}

/** Leaves sent one at a time to a named worker while all the others sleep: a wake-up that picks the wrong sleeper strands it. */
async function leavesByName(workers: number, leaves: number) {
  const pool = PoolQueues.allocate({ workers, recordWords: 4, inboxCapacity: 2, initialPosition: NEAR_WRAP });
  const specs = Array.from({ length: workers }, (_, index) => ({ role: "finder", index, queues: pool.refs, spinMicros: 0, batch: 4 }));
  const stranded: number[] = [];
  const o = await runRoles(leaves, specs, {
    timeoutMs: 60_000,
    drive: async (ctl) => {
      const rec = new Int32Array(4);
      for (let id = 0; id < leaves; id++) {
        await Bun.sleep(1); // every worker parks meanwhile (no spinning)
        rec.set([id, checkWord(id), 0, 0]);
        pool.submitTo(workers - 1 - (id % workers), rec); // the highest index first: notifyOne would wake the lowest
        if (!waitAtLeast(ctl, CTL_TAKEN, id + 1, 2000)) {
          stranded.push(id);
          break;
        }
      }
      pool.shutdown();
    },
  });
  return { o, stranded };
}

describe("mix: workers take from injector, own deque and each other, and push children", () => {
  test("2 workers, tiny deques that spill to the injector", async () => {
    const { o, total, pool } = await runTree(2, scale(64, 1220), scale(10, 12), 8, 50);
    expectExactlyOnce(o, total);
    expect(pool.pending()).toBe(0);
  }, STRESS ? 600_000 : 60_000);

  test("4 workers on 2 cores, no spinning (every idle moment parks)", async () => {
    const { o, total } = await runTree(4, scale(32, 600), scale(10, 12), 16, 0);
    expectExactlyOnce(o, total);
    expect(o.results.every((r) => r.taken > 0)).toBe(true);
  }, STRESS ? 600_000 : 60_000);

  test("inboxes: every other root sent to one worker by name (4-cell inboxes), 3 workers, no spinning", async () => {
    const { o, total, pool } = await runTree(3, scale(96, 1800), scale(8, 10), 16, 0, true);
    expectExactlyOnce(o, total);
    expect(pool.pending()).toBe(0);
  }, STRESS ? 600_000 : 60_000);

  test("inboxes: a leaf sent by name to a sleeping worker wakes that worker (INBOX S2), 3 workers", async () => {
    const { o, stranded } = await leavesByName(3, scale(60, 600));
    expect(stranded).toEqual([]);
    expectExactlyOnce(o, scale(60, 600));
  }, STRESS ? 600_000 : 60_000);
});
