import { describe, expect, test } from "bun:test";
import { Injector } from "../../src/shm/index.ts";
import { InvalidArgumentError, SharedLayoutError } from "../../src/errors.ts";

const rec = (...w: number[]) => Int32Array.from(w);

describe("Injector, single thread", () => {
  test("FIFO order, full and empty at capacity 4", () => {
    const q = Injector.allocate({ capacity: 4, recordWords: 2 });
    const out = new Int32Array(2);
    expect(q.pop(out)).toBe(false);
    expect(q.hasItems()).toBe(false);
    for (let i = 0; i < 4; i++) expect(q.push(rec(i, i * 10))).toBe(true);
    expect(q.push(rec(99, 99))).toBe(false); // full is reported
    expect(q.size()).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect(q.pop(out)).toBe(true);
      expect([...out]).toEqual([i, i * 10]);
    }
    expect(q.pop(out)).toBe(false);
  });

  test("wraps around the ring many laps", () => {
    const q = Injector.allocate({ capacity: 8, recordWords: 3 });
    const out = new Int32Array(3);
    let next = 0;
    let expected = 0;
    for (let lap = 0; lap < 1000; lap++) {
      const k = 1 + (lap % 7);
      for (let i = 0; i < k; i++, next++) expect(q.push(rec(next, 7 - next, next ^ 0x5a5a))).toBe(true);
      for (let i = 0; i < k; i++, expected++) {
        expect(q.pop(out)).toBe(true);
        expect([...out]).toEqual([expected, 7 - expected, expected ^ 0x5a5a]);
      }
    }
  });

  test("positions wrap past int32 max", () => {
    const q = Injector.allocate({ capacity: 4, recordWords: 1, initialPosition: 0x7ffffffd });
    const out = new Int32Array(1);
    for (let i = 0; i < 40; i++) {
      expect(q.push(rec(i))).toBe(true);
      expect(q.push(rec(i + 1000))).toBe(true);
      expect(q.size()).toBe(2);
      expect(q.pop(out)).toBe(true);
      expect(out[0]).toBe(i);
      expect(q.pop(out)).toBe(true);
      expect(out[0]).toBe(i + 1000);
    }
    expect(q.size()).toBe(0);
  });

  test("batches: partial push when nearly full, partial pop when nearly empty", () => {
    const q = Injector.allocate({ capacity: 8, recordWords: 2, initialPosition: -3 });
    const src = Int32Array.from({ length: 24 }, (_, i) => i);
    expect(q.pushBatch(src, 0, 5)).toBe(5);
    expect(q.pushBatch(src, 10, 7)).toBe(3); // only 3 cells left
    expect(q.pushBatch(src, 0, 1)).toBe(0);
    const dst = new Int32Array(32);
    expect(q.popBatch(dst, 0, 6)).toBe(6);
    expect([...dst.subarray(0, 12)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(q.popBatch(dst, 0, 16)).toBe(2);
    expect([...dst.subarray(0, 4)]).toEqual([12, 13, 14, 15]);
    expect(q.popBatch(dst, 0, 16)).toBe(0);
  });

  test("attach sees the same queue; attach to garbage is refused", () => {
    const q = Injector.allocate({ capacity: 16, recordWords: 4 });
    q.push(rec(1, 2, 3, 4));
    const other = Injector.attach(q.ref);
    const out = new Int32Array(4);
    expect(other.capacity).toBe(16);
    expect(other.pop(out)).toBe(true);
    expect([...out]).toEqual([1, 2, 3, 4]);
    expect(() => Injector.attach({ buffer: new SharedArrayBuffer(4096), byteOffset: 0 })).toThrow(SharedLayoutError);
  });

  test("bad capacities name the parameter", () => {
    for (const capacity of [0, 1, 3, 6, 1000, 2 ** 25, 1.5, Number.NaN]) {
      let err: unknown;
      try {
        Injector.allocate({ capacity, recordWords: 2 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).parameter).toBe("injector.capacity");
      expect((err as Error).message).toContain("injector.capacity");
    }
    expect(() => Injector.allocate({ capacity: 6, recordWords: 2 })).toThrow(/power of two.*nearest: 8/);
    expect(() => Injector.allocate({ capacity: 8, recordWords: 0 })).toThrow(/injector.recordWords/);
    expect(() => Injector.allocate({ capacity: 8, recordWords: 16 })).toThrow(/injector.recordWords/);
  });

  test("a buffer too small for the capacity is refused, naming capacity", () => {
    const buffer = new SharedArrayBuffer(1024);
    expect(() => Injector.init({ buffer, byteOffset: 0 }, { capacity: 1024, recordWords: 4 })).toThrow(
      /injector.capacity needs \d+ bytes/,
    );
  });
});
