import { describe, expect, test } from "bun:test";
import { DequeOwner, DequeStealer, Injector, Steal, allocateDeque } from "../../src/shm/index.ts";

const rec = (...w: number[]) => Int32Array.from(w);

describe("Chase-Lev deque, single thread", () => {
  test("owner is LIFO, thief is FIFO, at capacity 4", () => {
    const ref = allocateDeque({ capacity: 4, recordWords: 2 });
    const owner = new DequeOwner(ref);
    const thief = new DequeStealer(ref);
    const out = new Int32Array(2);
    expect(owner.pop(out)).toBe(false);
    expect(thief.steal(out)).toBe(Steal.Empty);
    for (let i = 0; i < 4; i++) expect(owner.push(rec(i, 100 + i))).toBe(true);
    expect(owner.push(rec(9, 9))).toBe(false); // full, no overflow injector
    expect(thief.steal(out)).toBe(Steal.Success);
    expect([...out]).toEqual([0, 100]);
    expect(owner.pop(out)).toBe(true);
    expect([...out]).toEqual([3, 103]);
    expect(owner.pop(out)).toBe(true);
    expect(out[0]).toBe(2);
    expect(thief.steal(out)).toBe(Steal.Success); // last one, taken by the thief
    expect(out[0]).toBe(1);
    expect(owner.pop(out)).toBe(false);
    expect(owner.size()).toBe(0);
    expect(owner.push(rec(5, 5))).toBe(true); // usable after the empty-pop undo
    expect(owner.pop(out)).toBe(true);
    expect(out[0]).toBe(5);
  });

  test("owner's takeOldest is FIFO and mixes with pop and steal; a push after it reuses the slots", () => {
    const ref = allocateDeque({ capacity: 4, recordWords: 1, initialPosition: 0x7ffffffe });
    const owner = new DequeOwner(ref);
    const thief = new DequeStealer(ref);
    const out = new Int32Array(1);
    expect(owner.takeOldest(out)).toBe(false);
    for (let i = 0; i < 4; i++) expect(owner.push(rec(i))).toBe(true);
    expect(owner.takeOldest(out)).toBe(true);
    expect(out[0]).toBe(0);
    expect(thief.steal(out)).toBe(Steal.Success);
    expect(out[0]).toBe(1);
    expect(owner.pop(out)).toBe(true);
    expect(out[0]).toBe(3);
    expect(owner.push(rec(4))).toBe(true);
    expect(owner.push(rec(5))).toBe(true);
    const rest: number[] = [];
    while (owner.takeOldest(out)) rest.push(out[0]!);
    expect(rest).toEqual([2, 4, 5]);
    expect(owner.size()).toBe(0);
    expect(owner.pop(out)).toBe(false);
  });

  test("wrap-around: top and bottom pass int32 max, slots reused many laps", () => {
    const ref = allocateDeque({ capacity: 8, recordWords: 1, initialPosition: 0x7ffffff0 });
    const owner = new DequeOwner(ref);
    const thief = new DequeStealer(ref);
    const out = new Int32Array(1);
    let pushed = 0;
    const seen: number[] = [];
    for (let round = 0; round < 500; round++) {
      for (let i = 0; i < 5; i++) expect(owner.push(rec(pushed++))).toBe(true);
      expect(thief.steal(out)).toBe(Steal.Success);
      seen.push(out[0]!);
      while (owner.pop(out)) seen.push(out[0]!);
    }
    expect(seen.length).toBe(pushed);
    expect(new Set(seen).size).toBe(pushed);
  });

  test("a full deque spills its older half to the injector, oldest first", () => {
    const inj = Injector.allocate({ capacity: 8, recordWords: 1 });
    const ref = allocateDeque({ capacity: 4, recordWords: 1 });
    const owner = new DequeOwner(ref, inj);
    for (let i = 0; i < 4; i++) expect(owner.push(rec(i))).toBe(true);
    expect(owner.push(rec(4))).toBe(true); // spills 0,1
    expect(inj.size()).toBe(2);
    expect(owner.size()).toBe(3);
    const out = new Int32Array(1);
    expect(inj.pop(out) && out[0]).toBe(0);
    expect(inj.pop(out) && out[0]).toBe(1);
    const rest: number[] = [];
    while (owner.pop(out)) rest.push(out[0]!);
    expect(rest).toEqual([4, 3, 2]);
  });

  test("when deque and injector are both full, push reports it and loses nothing", () => {
    const inj = Injector.allocate({ capacity: 2, recordWords: 1 });
    const ref = allocateDeque({ capacity: 4, recordWords: 1 });
    const owner = new DequeOwner(ref, inj);
    let accepted = 0;
    for (let i = 0; i < 20; i++) if (owner.push(rec(i))) accepted++;
    expect(accepted).toBe(6); // 4 in the deque + 2 in the injector
    const out = new Int32Array(1);
    const all: number[] = [];
    while (owner.pop(out)) all.push(out[0]!);
    while (inj.pop(out)) all.push(out[0]!);
    expect(all.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("a spill the injector takes only partly puts the rest back and keeps the new record", () => {
    const inj = Injector.allocate({ capacity: 2, recordWords: 1 });
    inj.push(rec(100)); // one free cell left
    const ref = allocateDeque({ capacity: 4, recordWords: 1 });
    const owner = new DequeOwner(ref, inj);
    for (let i = 0; i < 4; i++) expect(owner.push(rec(i))).toBe(true);
    expect(owner.push(rec(4))).toBe(true); // spills 0,1: the injector takes 0, 1 goes back
    const out = new Int32Array(1);
    const all: number[] = [];
    while (owner.pop(out)) all.push(out[0]!);
    while (inj.pop(out)) all.push(out[0]!);
    expect(all.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 100]);
  });

  test("stealBatch takes at most half, oldest first", () => {
    const ref = allocateDeque({ capacity: 16, recordWords: 1 });
    const owner = new DequeOwner(ref);
    const thief = new DequeStealer(ref);
    for (let i = 0; i < 10; i++) owner.push(rec(i));
    const dst = new Int32Array(16);
    expect(thief.stealBatch(dst, 0, 16)).toBe(5);
    expect([...dst.subarray(0, 5)]).toEqual([0, 1, 2, 3, 4]);
    expect(thief.stealBatch(dst, 0, 2)).toBe(2);
    expect(owner.size()).toBe(3);
  });

  test("bad parameters name themselves", () => {
    expect(() => allocateDeque({ capacity: 12, recordWords: 1 })).toThrow(/deque.capacity must be a power of two/);
    expect(() => allocateDeque({ capacity: 0, recordWords: 1 })).toThrow(/deque.capacity must be at least 2/);
    expect(() => allocateDeque({ capacity: 8, recordWords: 99 })).toThrow(/deque.recordWords/);
  });
});
