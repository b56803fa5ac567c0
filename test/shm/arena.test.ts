import { describe, expect, test } from "bun:test";
import { PayloadArena, sizeClassesFor } from "../../src/shm/index.ts";
import { InvalidArgumentError } from "../../src/errors.ts";

const tiny = [
  { blockBytes: 16, count: 4 },
  { blockBytes: 64, count: 2 },
];

describe("PayloadArena, single thread", () => {
  test("smallest fitting class first, then falls through to larger ones, then reports full", () => {
    const a = PayloadArena.allocate(tiny);
    expect(a.maxPayload).toBe(64);
    const small = Array.from({ length: 4 }, () => a.tryAlloc(10));
    expect(small.every((h) => h >= 0 && a.capacityOf(h) === 16)).toBe(true);
    const spill = a.tryAlloc(10); // class 0 is empty: takes a 64-byte block
    expect(a.capacityOf(spill)).toBe(64);
    const big = a.tryAlloc(64);
    expect(a.capacityOf(big)).toBe(64);
    expect(a.tryAlloc(1)).toBe(-1); // everything taken: reported, not corrupted
    a.free(small[2]!);
    expect(a.tryAlloc(16)).toBe(small[2]!);
    expect(a.freeBlocks()).toEqual([0, 0]);
  });

  test("blocks do not overlap and keep their bytes", () => {
    const a = PayloadArena.allocate([{ blockBytes: 32, count: 8 }, { blockBytes: 128, count: 4 }]);
    const handles = [...Array(8)].map(() => a.tryAlloc(32)).concat([...Array(4)].map(() => a.tryAlloc(100)));
    handles.forEach((h, i) => a.u8.fill(i + 1, a.byteOffset(h), a.byteOffset(h) + a.capacityOf(h)));
    handles.forEach((h, i) => {
      const bytes = a.u8.subarray(a.byteOffset(h), a.byteOffset(h) + a.capacityOf(h));
      expect(bytes.every((b) => b === i + 1)).toBe(true);
      expect(a.byteOffset(h) % 8).toBe(0);
    });
  });

  test("a payload larger than the largest block finds no block and disturbs nothing (it travels outside the arena)", () => {
    const a = PayloadArena.allocate(tiny);
    const h = a.tryAlloc(8);
    a.u8[a.byteOffset(h)] = 42;
    expect(a.tryAlloc(65)).toBe(-1);
    expect(a.tryAlloc(1 << 20)).toBe(-1);
    expect(a.tryAlloc(Number.NaN)).toBe(-1);
    expect(a.u8[a.byteOffset(h)]).toBe(42);
    expect(a.freeBlocks()).toEqual([3, 2]);
  });

  test("double free and forged handles are refused", () => {
    const a = PayloadArena.allocate(tiny);
    const h = a.tryAlloc(8);
    a.free(h);
    expect(() => a.free(h)).toThrow(/not allocated/);
    expect(() => a.free((7 << 20) | 1)).toThrow(/no block of this arena/);
    expect(() => a.free(-5)).toThrow(InvalidArgumentError);
    expect(a.freeBlocks()).toEqual([4, 2]);
  });

  test("segments tag their handles; a handle of another segment is refused", () => {
    const a = PayloadArena.allocate(tiny, 0);
    const b = PayloadArena.allocate(tiny, 5);
    const hb = b.tryAlloc(8);
    expect(hb >>> 25).toBe(5);
    expect(() => a.free(hb)).toThrow(/no block of this arena/);
    b.free(hb);
    expect(() => PayloadArena.allocate(tiny, 64)).toThrow(/segment/);
  });

  test("size classes scale with the arena's bytes; the largest block is at most an eighth", () => {
    const eight = sizeClassesFor(8 << 20);
    expect(eight.map((c) => c.blockBytes)).toEqual([64, 256, 1024, 4096, 16384, 65536, 262144, 1048576]);
    expect(eight[0]!.count).toBe(16384);
    const one = sizeClassesFor(1 << 20);
    expect(one.at(-1)!.blockBytes).toBe(65536);
    expect(PayloadArena.bytesFor(one)).toBeLessThan(1.2 * (1 << 20));
  });

  test("bad size classes name the key", () => {
    expect(() => PayloadArena.allocate([])).toThrow(/arena.classes/);
    expect(() => PayloadArena.allocate([{ blockBytes: 12, count: 1 }])).toThrow(/arena.classes\[0\].blockBytes/);
    expect(() => PayloadArena.allocate([{ blockBytes: 64, count: 1 }, { blockBytes: 32, count: 1 }])).toThrow(
      /arena.classes\[1\].blockBytes must be larger/,
    );
    expect(() => PayloadArena.allocate([{ blockBytes: 8, count: 0 }])).toThrow(/arena.classes\[0\].count/);
  });

  test("the default arena attaches from another view", () => {
    const a = PayloadArena.allocate();
    const b = PayloadArena.attach(a.ref);
    const h = a.tryAlloc(1000);
    b.free(h);
    expect(b.maxPayload).toBe(1 << 20);
  });
});

describe("PayloadArena, threads", () => {
  test("blocks freed while another thread is inside a pop of the same cell are never lost (the free ring looked full)", async () => {
    // One class of 4 blocks, its free ring holding all 4: a free that lands a lap after a pop
    // claimed the same cell, before that pop released it, used to drop the block.
    const a = PayloadArena.allocate([{ blockBytes: 16, count: 4 }]);
    const rounds = process.env.STRESS === "1" ? 2_000_000 : 300_000;
    const workers = Array.from({ length: 3 }, () => new Worker(new URL("../fixtures/arena-churn.ts", import.meta.url).href));
    try {
      await Promise.all(workers.map((w) => new Promise((resolve) => {
        w.onmessage = resolve;
        w.postMessage({ ref: a.ref, rounds });
      })));
    } finally {
      for (const w of workers) w.terminate();
    }
    expect(a.freeBlocks()).toEqual([4]);
  }, 60_000);
});
