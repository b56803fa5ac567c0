import { describe, expect, test } from "bun:test";
import { PayloadArena } from "../../src/shm/index.ts";
import { InvalidArgumentError, PayloadTooLargeError, TimeoutError } from "../../src/errors.ts";

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

  test("a payload larger than the largest block is a clear error and disturbs nothing", () => {
    const a = PayloadArena.allocate(tiny);
    const h = a.tryAlloc(8);
    a.u8[a.byteOffset(h)] = 42;
    let err: unknown;
    try {
      a.tryAlloc(65);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as PayloadTooLargeError).code).toBe("ERR_PAYLOAD_TOO_LARGE");
    expect((err as PayloadTooLargeError).limit).toBe(64);
    expect((err as Error).message).toContain("65 bytes");
    expect(() => a.alloc(1 << 20)).toThrow(PayloadTooLargeError);
    expect(a.u8[a.byteOffset(h)]).toBe(42);
    expect(a.freeBlocks()).toEqual([3, 2]);
    expect(() => a.tryAlloc(-1)).toThrow(InvalidArgumentError);
  });

  test("double free and forged handles are refused", () => {
    const a = PayloadArena.allocate(tiny);
    const h = a.tryAlloc(8);
    a.free(h);
    expect(() => a.free(h)).toThrow(/not allocated/);
    expect(() => a.free((7 << 24) | 1)).toThrow(/no block of this arena/);
    expect(() => a.free(-5)).toThrow(InvalidArgumentError);
    expect(a.freeBlocks()).toEqual([4, 2]);
  });

  test("alloc waits with a deadline; allocAsync resolves when a block is freed", async () => {
    const a = PayloadArena.allocate([{ blockBytes: 8, count: 1 }]);
    const h = a.tryAlloc(8);
    expect(() => a.alloc(8, 20)).toThrow(TimeoutError);
    const waiting = a.allocAsync(8, 5000);
    setTimeout(() => a.free(h), 10);
    expect(await waiting).toBe(h);
    await expect(a.allocAsync(8, 10)).rejects.toBeInstanceOf(TimeoutError);
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
