/**
 * Work-stealing deque of fixed-size task records in a SharedArrayBuffer: the Chase-Lev deque
 * ("Dynamic Circular Work-Stealing Deque", Chase & Lev, SPAA'05) with the memory orders of
 * "Correct and Efficient Work-Stealing for Weak Memory Models" (Le et al., PPoPP'13), at a fixed
 * power-of-two capacity. JavaScript Atomics are sequentially consistent, which gives every fence
 * the paper asks for.
 *
 * Two classes, two contracts:
 * - `DequeOwner`: exactly one thread (the worker that owns the deque) pushes and pops at the bottom,
 *   LIFO, and may take the oldest record from the top as a thief would (FIFO, for injected work).
 *   When the deque is full, the owner moves the older half to the injector, as tokio does.
 * - `DequeStealer`: any number of other threads steal from the top, FIFO; a steal returns
 *   `Empty`, `Success` or `Retry` (lost a race; the deque may still hold work).
 * Protocol and proof sketch: PROTOCOL.md, section "Deque".
 */
import {
  DEQUE_MAGIC, DEQ_BOTTOM, DEQ_CAPACITY, DEQ_RECORD_WORDS, DEQ_SLOTS, DEQ_STRIDE, DEQ_TOP, HDR_MAGIC,
  attachHeader, checkCapacity, checkRecordWords, checkRoom, dequeBytes, dequeStride,
  type SharedRef,
} from "./layout.ts";
import type { Injector } from "./injector.ts";

/** What a steal returns. */
export const Steal = {
  /** The deque was empty when looked at. */
  Empty: 0,
  /** One record was copied into the destination. */
  Success: 1,
  /** Lost a race with the owner or another thief; the deque may still hold work. */
  Retry: 2,
} as const;
export type Steal = (typeof Steal)[keyof typeof Steal];

export interface DequeOptions {
  capacity: number;
  recordWords: number;
  /** Test hook: start top and bottom here to exercise int32 wrap-around. */
  initialPosition?: number;
}

/** The parts both sides share: the words and their geometry. */
class DequeView {
  readonly ref: SharedRef;
  readonly capacity: number;
  readonly recordWords: number;
  protected readonly w: Int32Array;
  protected readonly mask: number;
  protected readonly shift: number;

  constructor(ref: SharedRef) {
    const header = attachHeader("deque", ref, DEQUE_MAGIC);
    this.ref = { buffer: ref.buffer, byteOffset: ref.byteOffset };
    this.capacity = header[DEQ_CAPACITY]!;
    this.recordWords = header[DEQ_RECORD_WORDS]!;
    this.mask = this.capacity - 1;
    this.shift = Math.log2(header[DEQ_STRIDE]!);
    this.w = new Int32Array(ref.buffer, ref.byteOffset, dequeBytes(this.capacity, this.recordWords) / 4);
  }

  /** Records in the deque; a snapshot. */
  size(): number {
    const n = (Atomics.load(this.w, DEQ_BOTTOM) - Atomics.load(this.w, DEQ_TOP)) | 0;
    return n < 0 ? 0 : n;
  }

  protected slot(pos: number): number {
    return DEQ_SLOTS + ((pos & this.mask) << this.shift);
  }
}

export function dequeBytesFor(capacity: number, recordWords: number): number {
  return dequeBytes(checkCapacity("deque.capacity", capacity), checkRecordWords("deque.recordWords", recordWords));
}

/** Lays out a new, empty deque at `ref` (sized with `dequeBytesFor`); returns where it is. */
export function initDeque(ref: SharedRef, options: DequeOptions): SharedRef {
  const bytes = dequeBytesFor(options.capacity, options.recordWords);
  checkRoom("deque", ref.buffer, ref.byteOffset, bytes);
  const w = new Int32Array(ref.buffer, ref.byteOffset, bytes / 4);
  w[DEQ_CAPACITY] = options.capacity;
  w[DEQ_RECORD_WORDS] = options.recordWords;
  w[DEQ_STRIDE] = dequeStride(options.recordWords);
  const start = (options.initialPosition ?? 0) | 0;
  Atomics.store(w, DEQ_TOP, start);
  Atomics.store(w, DEQ_BOTTOM, start);
  Atomics.store(w, HDR_MAGIC, DEQUE_MAGIC);
  return { buffer: ref.buffer, byteOffset: ref.byteOffset };
}

/** Creates a SharedArrayBuffer holding a new, empty deque. */
export function allocateDeque(options: DequeOptions): SharedRef {
  const buffer = new SharedArrayBuffer(dequeBytesFor(options.capacity, options.recordWords));
  return initDeque({ buffer, byteOffset: 0 }, options);
}

/**
 * The owner's handle. Only the owning thread may call its methods; creating two owners of one deque
 * breaks the deque.
 */
export class DequeOwner extends DequeView {
  /** The owner's private copy of bottom: only the owner writes DEQ_BOTTOM. */
  private bottom: number;
  /** The last value of top the owner read (a lower bound of the real one). */
  private topSeen: number;
  private overflowScratch: Int32Array;

  constructor(ref: SharedRef, private readonly overflow?: Injector) {
    super(ref);
    // A replacement owner adopts the deque as it is; an owner that died inside pop (after reserving bottom) may have
    // left bottom below top: the deque is empty then, and bottom goes back to top.
    const top = Atomics.load(this.w, DEQ_TOP);
    this.topSeen = top;
    this.bottom = Atomics.load(this.w, DEQ_BOTTOM);
    if (((this.bottom - top) | 0) < 0) {
      this.bottom = top;
      Atomics.store(this.w, DEQ_BOTTOM, top);
    }
    this.overflowScratch = new Int32Array((this.capacity >> 1) * this.recordWords);
  }

  /**
   * Pushes one record at the bottom. When the deque is full, first moves the older half to the
   * overflow injector. Returns false only when both are full; the record was not taken.
   */
  push(src: ArrayLike<number>, srcOffset = 0): boolean {
    const w = this.w;
    // DQ-O1: top only grows, so a stale top only under-counts free room: look at the real one only
    // when the last one seen says full.
    if (((this.bottom - this.topSeen) | 0) >= this.capacity) {
      this.topSeen = Atomics.load(w, DEQ_TOP);
      if (((this.bottom - this.topSeen) | 0) >= this.capacity && !this.spillHalf()) return false;
    }
    const b = this.bottom; // after a spill: records the injector refused went back in at the bottom
    const s = this.slot(b);
    for (let i = 0; i < this.recordWords; i++) w[s + i] = src[srcOffset + i]!;
    this.bottom = (b + 1) | 0;
    Atomics.store(w, DEQ_BOTTOM, this.bottom); // DQ-O2: publish to thieves
    return true;
  }

  /** Owner: the deque holds a record a thief may still take (a snapshot: top is read fresh). */
  holdsRecords(): boolean {
    return ((this.bottom - Atomics.load(this.w, DEQ_TOP)) | 0) > 0;
  }

  /** Pops the newest record into `dst`. False when empty (or a thief took the last one). */
  pop(dst: Int32Array, dstOffset = 0): boolean {
    const w = this.w;
    const b = (this.bottom - 1) | 0;
    Atomics.store(w, DEQ_BOTTOM, b); // DQ-O3: reserve b before looking at top (SC store/load = the fence)
    const t = Atomics.load(w, DEQ_TOP);
    this.topSeen = t;
    const size = (b - t) | 0;
    if (size < 0) {
      Atomics.store(w, DEQ_BOTTOM, this.bottom); // was empty: undo
      return false;
    }
    const s = this.slot(b);
    for (let i = 0; i < this.recordWords; i++) dst[dstOffset + i] = w[s + i]!;
    if (size > 0) {
      this.bottom = b;
      return true;
    }
    // DQ-O4: the last record; race the thieves for it through top.
    const won = Atomics.compareExchange(w, DEQ_TOP, t, (t + 1) | 0) === t;
    this.bottom = (t + 1) | 0;
    Atomics.store(w, DEQ_BOTTOM, this.bottom);
    return won;
  }

  /**
   * Takes the oldest record (FIFO) into `dst`, racing the thieves for it through top as they do:
   * how a worker runs injected batches in submission order. Fork-join halves are taken back with
   * `pop` (newest first). False when empty. Lock-free: a failed CAS means a thief took a record.
   */
  takeOldest(dst: Int32Array, dstOffset = 0): boolean {
    const w = this.w;
    for (;;) {
      const t = Atomics.load(w, DEQ_TOP);
      this.topSeen = t;
      if (((this.bottom - t) | 0) <= 0) return false;
      const s = this.slot(t);
      for (let i = 0; i < this.recordWords; i++) dst[dstOffset + i] = w[s + i]!;
      // DQ-O6: the copy is ours only if top did not move; only the owner writes slots, and it is here.
      if (Atomics.compareExchange(w, DEQ_TOP, t, (t + 1) | 0) === t) return true;
    }
  }

  /**
   * Spill (tokio's push_overflow): claims the older half of the deque from the top with one CAS and
   * appends it to the injector. Safe without per-item CAS because only the owner moves bottom, and
   * the owner is here, not popping. Records the injector cannot take go back in at the bottom.
   * Returns true when at least one slot was freed.
   */
  private spillHalf(): boolean {
    if (!this.overflow) return false;
    const w = this.w;
    const rw = this.recordWords;
    const scratch = this.overflowScratch;
    const half = this.capacity >> 1;
    let t = Atomics.load(w, DEQ_TOP);
    let n = 0;
    for (;;) {
      n = Math.min(half, (this.bottom - t) | 0);
      if (n <= 0) return true; // thieves emptied it meanwhile
      for (let k = 0; k < n; k++) {
        const s = this.slot((t + k) | 0);
        for (let i = 0; i < rw; i++) scratch[k * rw + i] = w[s + i]!;
      }
      const seen = Atomics.compareExchange(w, DEQ_TOP, t, (t + n) | 0); // DQ-O5: one CAS over n slots
      if (seen === t) break;
      t = seen;
    }
    const moved = this.overflow.pushBatch(scratch, 0, n);
    for (let k = moved; k < n; k++) this.pushRaw(scratch, k * rw); // room: we just freed n slots
    return moved > 0;
  }

  private pushRaw(src: Int32Array, srcOffset: number): void {
    const s = this.slot(this.bottom);
    for (let i = 0; i < this.recordWords; i++) this.w[s + i] = src[srcOffset + i]!;
    this.bottom = (this.bottom + 1) | 0;
    Atomics.store(this.w, DEQ_BOTTOM, this.bottom);
  }
}

/** A thief's handle. Any thread other than the owner may steal; many may steal at once. */
export class DequeStealer extends DequeView {
  /** Steals the oldest record into `dst`. */
  steal(dst: Int32Array, dstOffset = 0): Steal {
    const w = this.w;
    const t = Atomics.load(w, DEQ_TOP); // DQ-T1: top before bottom
    const b = Atomics.load(w, DEQ_BOTTOM);
    if (((b - t) | 0) <= 0) return Steal.Empty;
    const s = this.slot(t);
    for (let i = 0; i < this.recordWords; i++) dst[dstOffset + i] = w[s + i]!;
    // DQ-T2: the copy is ours only if top did not move meanwhile.
    return Atomics.compareExchange(w, DEQ_TOP, t, (t + 1) | 0) === t ? Steal.Success : Steal.Retry;
  }

  /**
   * Steals up to `max` records (at most half of what the deque holds, at least one), one CAS each:
   * a single CAS over several slots could take records the owner is popping (PROTOCOL.md, "Deque").
   * Returns how many were taken; 0 means empty or lost every race.
   */
  stealBatch(dst: Int32Array, dstOffset: number, max: number): number {
    const half = Math.max(1, this.size() >> 1);
    const want = Math.min(max, half);
    let n = 0;
    let retries = 0;
    while (n < want) {
      const r = this.steal(dst, dstOffset + n * this.recordWords); // DQ-T3: one CAS per record
      if (r === Steal.Success) n++;
      else if (r === Steal.Empty || ++retries > 8) break;
    }
    return n;
  }
}
