/**
 * One thread's view of a pool's payload store: the arena segments it knows. The first segment is
 * given to every thread at start; the main thread adds segments under pressure, up to the pool's
 * cap, and announces each by mail (`seg`), which a thread adopts when it meets a handle of a segment
 * it does not know yet or when it looks for room. Nothing here waits: a full store answers -1.
 *
 * Concurrency contract: the arena segments are shared by every thread of the pool (any thread
 * allocates and frees); this object is thread-local.
 */
import { PayloadArena, type SizeClass } from "../shm/arena.ts";
import { ARENA_MAX_SEGMENTS, ARENA_SEGMENT_SHIFT, type SharedRef } from "../shm/layout.ts";

export class PayloadStore {
  /** Segments by number; holes where this thread has not adopted one yet. */
  private readonly segments: Array<PayloadArena | undefined> = [];
  private readonly order: PayloadArena[] = [];
  /** The largest payload one block holds (the same in every segment). */
  readonly maxBlock: number;
  /** Bytes of every block of every known segment (read per argument by the main thread's admission). */
  capacity = 0;

  constructor(first: SharedRef, private readonly onUnknownSegment: (segment: number) => void = () => {}) {
    this.maxBlock = this.adopt(first).maxPayload;
  }

  /** Takes a segment the main thread made; idempotent. */
  adopt(ref: SharedRef): PayloadArena {
    const arena = PayloadArena.attach(ref);
    const known = this.segments[arena.segment];
    if (known) return known;
    this.segments[arena.segment] = arena;
    this.order.push(arena);
    this.capacity += arena.capacity;
    return arena;
  }

  /** Where every known segment lives, by number: what a thread started later is given. */
  refs(): SharedRef[] {
    return this.order.map((a) => a.ref);
  }

  /** Bytes of blocks in use now, in every known segment (a snapshot; 0 when no payload is held). */
  usedBytes(): number {
    return this.order.reduce((n, a) => n + a.capacity - a.freeBytes, 0);
  }

  knows(segment: number): boolean {
    return this.segments[segment] !== undefined;
  }

  /** Segments this thread knows. */
  get count(): number {
    return this.order.length;
  }

  /** A block of at least `bytes` from any known segment, first segments first; -1 when none has room. */
  tryAlloc(bytes: number): number {
    if (bytes > this.maxBlock) return -1;
    const order = this.order;
    for (let i = 0; i < order.length; i++) {
      const h = order[i]!.tryAlloc(bytes);
      if (h >= 0) return h;
    }
    return -1;
  }

  free(handle: number): void {
    this.segmentOf(handle).free(handle);
  }

  capacityOf(handle: number): number {
    return this.segmentOf(handle).capacityOf(handle);
  }

  /** The `length` bytes stored in block `handle`. */
  bytes(handle: number, length: number): Uint8Array {
    const arena = this.segmentOf(handle);
    const off = arena.byteOffset(handle);
    return arena.u8.subarray(off, off + length);
  }

  private segmentOf(handle: number): PayloadArena {
    const n = handle >>> ARENA_SEGMENT_SHIFT;
    let arena = this.segments[n];
    if (arena === undefined && n < ARENA_MAX_SEGMENTS) {
      this.onUnknownSegment(n); // reads mail until the segment's announcement is adopted
      arena = this.segments[n];
    }
    if (arena === undefined) throw new Error(`payload store: handle ${handle} names segment ${n}, which this thread never received`);
    return arena;
  }
}

/** Main thread: makes new segments, numbered after the last. */
export function newSegment(store: PayloadStore, classes: readonly SizeClass[]): PayloadArena {
  return store.adopt(PayloadArena.allocate(classes, store.count).ref);
}
