/**
 * Injector: a bounded lock-free multi-producer multi-consumer queue of fixed-size task records in a
 * SharedArrayBuffer, after Dmitry Vyukov's bounded MPMC queue (1024cores.net, "Bounded MPMC queue").
 *
 * Concurrency contract: every method may be called by any thread at any time, from any number of
 * threads. A full queue is reported (`push` returns false, `pushBatch` returns fewer than asked),
 * never overwritten. Protocol, invariants and wrap-around: PROTOCOL.md, section "Injector".
 *
 * @example
 * const q = Injector.allocate({ capacity: 1024, recordWords: 4 });
 * q.push(Int32Array.of(7, 1, 2, 3));
 * const worker = new Worker(url); worker.postMessage(q.ref);   // worker: Injector.attach(ref)
 */
import {
  INJECTOR_MAGIC, INJ_CAPACITY, INJ_CELLS, INJ_HEAD, INJ_RECORD_WORDS, INJ_STRIDE, INJ_TAIL, HDR_MAGIC,
  attachHeader, checkCapacity, checkRecordWords, checkRoom, injectorBytes, injectorStride,
  type SharedRef,
} from "./layout.ts";

export interface InjectorOptions {
  /** Number of cells, a power of two. */
  capacity: number;
  /** Words per task record (1..15). */
  recordWords: number;
  /** Test hook: start both positions here to exercise int32 wrap-around. */
  initialPosition?: number;
}

export class Injector {
  readonly ref: SharedRef;
  readonly capacity: number;
  readonly recordWords: number;
  private readonly w: Int32Array;
  private readonly mask: number;
  private readonly shift: number;

  private constructor(ref: SharedRef) {
    const header = attachHeader("injector", ref, INJECTOR_MAGIC);
    this.ref = { buffer: ref.buffer, byteOffset: ref.byteOffset };
    this.capacity = header[INJ_CAPACITY]!;
    this.recordWords = header[INJ_RECORD_WORDS]!;
    this.mask = this.capacity - 1;
    this.shift = Math.log2(header[INJ_STRIDE]!);
    this.w = new Int32Array(ref.buffer, ref.byteOffset, injectorBytes(this.capacity, this.recordWords) / 4);
  }

  static bytesFor(capacity: number, recordWords: number): number {
    return injectorBytes(checkCapacity("injector.capacity", capacity), checkRecordWords("injector.recordWords", recordWords));
  }

  /** Creates a SharedArrayBuffer holding a new, empty injector. */
  static allocate(options: InjectorOptions): Injector {
    const buffer = new SharedArrayBuffer(Injector.bytesFor(options.capacity, options.recordWords));
    return Injector.init({ buffer, byteOffset: 0 }, options);
  }

  /** Lays out a new, empty injector at `ref` (which the caller sized with `bytesFor`). */
  static init(ref: SharedRef, options: InjectorOptions): Injector {
    const bytes = Injector.bytesFor(options.capacity, options.recordWords);
    checkRoom("injector", ref.buffer, ref.byteOffset, bytes);
    const w = new Int32Array(ref.buffer, ref.byteOffset, bytes / 4);
    const start = (options.initialPosition ?? 0) | 0;
    const stride = injectorStride(options.recordWords);
    w[INJ_CAPACITY] = options.capacity;
    w[INJ_RECORD_WORDS] = options.recordWords;
    w[INJ_STRIDE] = stride;
    // Cell for position p holds seq == p while free for the producer of p (PROTOCOL.md, INJ-I1).
    for (let i = 0; i < options.capacity; i++) {
      const pos = (start + i) | 0;
      w[INJ_CELLS + (pos & (options.capacity - 1)) * stride] = pos;
    }
    Atomics.store(w, INJ_TAIL, start);
    Atomics.store(w, INJ_HEAD, start);
    Atomics.store(w, HDR_MAGIC, INJECTOR_MAGIC); // last: attach refuses a half-built queue
    return new Injector(ref);
  }

  /** Wraps an injector that another thread laid out. */
  static attach(ref: SharedRef): Injector {
    return new Injector(ref);
  }

  /** Appends one record (`recordWords` words from `src[srcOffset]`). False when the queue is full. */
  push(src: ArrayLike<number>, srcOffset = 0): boolean {
    const w = this.w;
    const rw = this.recordWords;
    let pos = Atomics.load(w, INJ_TAIL); // INJ-P1: the position, then its cell's seq
    for (;;) {
      const cell = INJ_CELLS + ((pos & this.mask) << this.shift);
      const dif = (Atomics.load(w, cell) - pos) | 0;
      if (dif === 0) {
        // INJ-P2: the cell is free for position pos; claim pos.
        const seen = Atomics.compareExchange(w, INJ_TAIL, pos, (pos + 1) | 0);
        if (seen === pos) {
          for (let i = 0; i < rw; i++) w[cell + 1 + i] = src[srcOffset + i]!;
          Atomics.store(w, cell, (pos + 1) | 0); // INJ-P3: publish
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false; // the cell still holds the record of the previous lap: full
      } else {
        pos = Atomics.load(w, INJ_TAIL); // another producer took pos
      }
    }
  }

  /**
   * Appends up to `count` records laid end to end in `src`, claiming them with one CAS.
   * Returns how many were appended (0 when full); the caller keeps the rest.
   */
  pushBatch(src: ArrayLike<number>, srcOffset: number, count: number): number {
    const w = this.w;
    const rw = this.recordWords;
    const mask = this.mask;
    const shift = this.shift;
    let pos = Atomics.load(w, INJ_TAIL);
    for (;;) {
      let n = 0;
      let dif = 0;
      while (n < count) {
        const p = (pos + n) | 0;
        dif = (Atomics.load(w, INJ_CELLS + ((p & mask) << shift)) - p) | 0;
        if (dif !== 0) break;
        n++;
      }
      if (n === 0) {
        if (dif < 0) return 0;
        pos = Atomics.load(w, INJ_TAIL);
        continue;
      }
      const seen = Atomics.compareExchange(w, INJ_TAIL, pos, (pos + n) | 0);
      if (seen !== pos) {
        pos = seen;
        continue;
      }
      for (let k = 0; k < n; k++) {
        const cell = INJ_CELLS + (((pos + k) & mask) << shift);
        const from = srcOffset + k * rw;
        for (let i = 0; i < rw; i++) w[cell + 1 + i] = src[from + i]!;
      }
      for (let k = 0; k < n; k++) {
        const p = (pos + k) | 0;
        Atomics.store(w, INJ_CELLS + ((p & mask) << shift), (p + 1) | 0);
      }
      return n;
    }
  }

  /** Takes the oldest record into `dst[dstOffset..]`. False when the queue is empty. */
  pop(dst: Int32Array, dstOffset = 0): boolean {
    const w = this.w;
    const rw = this.recordWords;
    let pos = Atomics.load(w, INJ_HEAD); // INJ-C1: the position, then its cell's seq
    for (;;) {
      const cell = INJ_CELLS + ((pos & this.mask) << this.shift);
      const dif = (Atomics.load(w, cell) - ((pos + 1) | 0)) | 0;
      if (dif === 0) {
        // INJ-C2: the record for pos is published; claim pos.
        const seen = Atomics.compareExchange(w, INJ_HEAD, pos, (pos + 1) | 0);
        if (seen === pos) {
          for (let i = 0; i < rw; i++) dst[dstOffset + i] = w[cell + 1 + i]!;
          Atomics.store(w, cell, (pos + this.capacity) | 0); // INJ-C3: free the cell for the next lap
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false; // not yet published: empty
      } else {
        pos = Atomics.load(w, INJ_HEAD);
      }
    }
  }

  /** Takes up to `max` records, oldest first, with one CAS. Returns how many (0 when empty). */
  popBatch(dst: Int32Array, dstOffset: number, max: number): number {
    const w = this.w;
    const rw = this.recordWords;
    const mask = this.mask;
    const shift = this.shift;
    let pos = Atomics.load(w, INJ_HEAD);
    for (;;) {
      let n = 0;
      let dif = 0;
      while (n < max) {
        const p = (pos + n) | 0;
        dif = (Atomics.load(w, INJ_CELLS + ((p & mask) << shift)) - ((p + 1) | 0)) | 0;
        if (dif !== 0) break;
        n++;
      }
      if (n === 0) {
        if (dif < 0) return 0;
        pos = Atomics.load(w, INJ_HEAD);
        continue;
      }
      const seen = Atomics.compareExchange(w, INJ_HEAD, pos, (pos + n) | 0);
      if (seen !== pos) {
        pos = seen;
        continue;
      }
      for (let k = 0; k < n; k++) {
        const p = (pos + k) | 0;
        const cell = INJ_CELLS + ((p & mask) << shift);
        const to = dstOffset + k * rw;
        for (let i = 0; i < rw; i++) dst[to + i] = w[cell + 1 + i]!;
        Atomics.store(w, cell, (p + this.capacity) | 0);
      }
      return n;
    }
  }

  /** Records claimed but not yet taken; a snapshot, exact only when no one else is active. */
  size(): number {
    const n = (Atomics.load(this.w, INJ_TAIL) - Atomics.load(this.w, INJ_HEAD)) | 0;
    return n < 0 ? 0 : n > this.capacity ? this.capacity : n;
  }

  /**
   * True when the oldest record is published and not yet claimed: exactly what a `pop` right now
   * would take. (A claimed-but-unpublished cell does not count, so a producer that died mid-push
   * cannot make consumers spin forever; PROTOCOL.md, "Injector", limits.)
   */
  hasItems(): boolean {
    const pos = Atomics.load(this.w, INJ_HEAD);
    return Atomics.load(this.w, INJ_CELLS + ((pos & this.mask) << this.shift)) === ((pos + 1) | 0);
  }
}
