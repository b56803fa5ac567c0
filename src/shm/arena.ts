/**
 * Payload arena: variable-size task arguments and results in shared memory.
 *
 * Blocks come in size classes (e.g. 64 B, 256 B, ... 1 MiB). Each class keeps its free block
 * indices in an Injector of 1-word records, so allocating and freeing from any thread is one
 * lock-free queue operation and needs no ABA tag. A request takes the smallest class that fits and
 * falls through to larger classes when that one is empty.
 *
 * Concurrency contract: any thread may allocate and free; a block may be freed by a thread other
 * than the one that allocated it. Each block has a state word, so a double free or a forged handle
 * is an error, not a corruption. When no block is free, `tryAlloc` returns -1, `alloc` waits
 * (worker threads), `allocAsync` waits without blocking (main thread). A payload larger than the
 * largest class is a `PayloadTooLargeError`. Protocol: PROTOCOL.md, section "Arena".
 */
import { InvalidArgumentError, PayloadTooLargeError, TimeoutError } from "../errors.ts";
import { Injector } from "./injector.ts";
import {
  ACLS_BLOCK_BYTES, ACLS_COUNT, ACLS_DATA_OFFSET, ACLS_RING_OFFSET, ACLS_STATE_OFFSET, ARENA_CLASSES,
  ARENA_CLASS_FIELDS, ARENA_FREE_EPOCH, ARENA_HANDLE_SHIFT, ARENA_MAGIC, ARENA_MAX_CLASSES,
  ARENA_NUM_CLASSES, ARENA_TOTAL_BYTES, ARENA_WAITERS, BLOCK_FREE, BLOCK_USED, HDR_MAGIC, LINE_BYTES,
  WORD_BYTES, alignUp, attachHeader, checkRoom, nextPowerOfTwo, type SharedRef,
} from "./layout.ts";

export interface SizeClass {
  /** Bytes per block, a multiple of 8. */
  blockBytes: number;
  /** Number of blocks. */
  count: number;
}

/** About 11 MiB: many small blocks, a few large ones. */
export const DEFAULT_SIZE_CLASSES: readonly SizeClass[] = [
  { blockBytes: 64, count: 4096 },
  { blockBytes: 256, count: 2048 },
  { blockBytes: 1024, count: 1024 },
  { blockBytes: 4096, count: 256 },
  { blockBytes: 16384, count: 64 },
  { blockBytes: 65536, count: 16 },
  { blockBytes: 262144, count: 8 },
  { blockBytes: 1048576, count: 4 },
];

const MAX_BLOCKS_PER_CLASS = 1 << ARENA_HANDLE_SHIFT;
const HEADER_BYTES = alignUp((ARENA_CLASSES + ARENA_MAX_CLASSES * ARENA_CLASS_FIELDS) * WORD_BYTES, LINE_BYTES);

interface ClassPlan extends SizeClass {
  ringOffset: number;
  ringCapacity: number;
  stateOffset: number;
  dataOffset: number;
}

function planArena(classes: readonly SizeClass[]): { plans: ClassPlan[]; totalBytes: number } {
  if (!Array.isArray(classes) || classes.length === 0 || classes.length > ARENA_MAX_CLASSES) {
    throw new InvalidArgumentError("arena.classes", `must list 1..${ARENA_MAX_CLASSES} size classes`);
  }
  let at = HEADER_BYTES;
  const plans: ClassPlan[] = [];
  classes.forEach((c, i) => {
    const where = `arena.classes[${i}]`;
    if (!Number.isInteger(c?.blockBytes) || c.blockBytes < 8 || c.blockBytes % 8 !== 0) {
      throw new InvalidArgumentError(`${where}.blockBytes`, `must be a positive multiple of 8, got ${c?.blockBytes}`);
    }
    if (i > 0 && c.blockBytes <= classes[i - 1]!.blockBytes) {
      throw new InvalidArgumentError(`${where}.blockBytes`, "must be larger than the previous class's");
    }
    if (!Number.isInteger(c.count) || c.count < 1 || c.count >= MAX_BLOCKS_PER_CLASS) {
      throw new InvalidArgumentError(`${where}.count`, `must be an integer in 1..${MAX_BLOCKS_PER_CLASS - 1}, got ${c.count}`);
    }
    const ringCapacity = nextPowerOfTwo(Math.max(2, c.count));
    const ringOffset = at;
    at = alignUp(at + Injector.bytesFor(ringCapacity, 1), LINE_BYTES);
    const stateOffset = at;
    at = alignUp(at + c.count * WORD_BYTES, LINE_BYTES);
    plans.push({ ...c, ringOffset, ringCapacity, stateOffset, dataOffset: 0 });
  });
  for (const p of plans) {
    p.dataOffset = at;
    at = alignUp(at + p.blockBytes * p.count, LINE_BYTES);
  }
  if (at > 2 ** 31 - 1) {
    throw new InvalidArgumentError("arena.classes", `need ${at} bytes in all, more than the 2 GiB an arena may span`);
  }
  return { plans, totalBytes: at };
}

export class PayloadArena {
  readonly ref: SharedRef;
  /** The whole buffer as bytes; a block's bytes start at `byteOffset(handle)`. */
  readonly u8: Uint8Array;
  /** The largest payload any block holds. */
  readonly maxPayload: number;
  private readonly header: Int32Array;
  private readonly rings: Injector[] = [];
  private readonly states: Int32Array[] = [];
  private readonly blockBytes: number[] = [];
  private readonly counts: number[] = [];
  private readonly dataOffsets: number[] = [];
  private readonly scratch = new Int32Array(1);

  private constructor(ref: SharedRef) {
    const total = attachHeader("arena", ref, ARENA_MAGIC)[ARENA_TOTAL_BYTES]!;
    this.ref = { buffer: ref.buffer, byteOffset: ref.byteOffset };
    this.u8 = new Uint8Array(ref.buffer, 0, ref.byteOffset + total);
    const words = new Int32Array(ref.buffer, ref.byteOffset, HEADER_BYTES / WORD_BYTES);
    this.header = words;
    const n = words[ARENA_NUM_CLASSES]!;
    for (let c = 0; c < n; c++) {
      const f = ARENA_CLASSES + c * ARENA_CLASS_FIELDS;
      this.blockBytes.push(words[f + ACLS_BLOCK_BYTES]!);
      this.counts.push(words[f + ACLS_COUNT]!);
      this.dataOffsets.push(ref.byteOffset + words[f + ACLS_DATA_OFFSET]!);
      this.rings.push(Injector.attach({ buffer: ref.buffer, byteOffset: ref.byteOffset + words[f + ACLS_RING_OFFSET]! }));
      this.states.push(new Int32Array(ref.buffer, ref.byteOffset + words[f + ACLS_STATE_OFFSET]!, this.counts[c]!));
    }
    this.maxPayload = this.blockBytes[n - 1]!;
  }

  static bytesFor(classes: readonly SizeClass[] = DEFAULT_SIZE_CLASSES): number {
    return planArena(classes).totalBytes;
  }

  static allocate(classes: readonly SizeClass[] = DEFAULT_SIZE_CLASSES): PayloadArena {
    const buffer = new SharedArrayBuffer(PayloadArena.bytesFor(classes));
    return PayloadArena.init({ buffer, byteOffset: 0 }, classes);
  }

  /** Lays out a new arena with every block free at `ref` (sized with `bytesFor`). */
  static init(ref: SharedRef, classes: readonly SizeClass[] = DEFAULT_SIZE_CLASSES): PayloadArena {
    const { plans, totalBytes } = planArena(classes);
    checkRoom("arena", ref.buffer, ref.byteOffset, totalBytes);
    const words = new Int32Array(ref.buffer, ref.byteOffset, HEADER_BYTES / WORD_BYTES);
    words[ARENA_NUM_CLASSES] = plans.length;
    words[ARENA_TOTAL_BYTES] = totalBytes;
    plans.forEach((p, c) => {
      const f = ARENA_CLASSES + c * ARENA_CLASS_FIELDS;
      words[f + ACLS_BLOCK_BYTES] = p.blockBytes;
      words[f + ACLS_COUNT] = p.count;
      words[f + ACLS_RING_OFFSET] = p.ringOffset;
      words[f + ACLS_DATA_OFFSET] = p.dataOffset;
      words[f + ACLS_STATE_OFFSET] = p.stateOffset;
      const ring = Injector.init(
        { buffer: ref.buffer, byteOffset: ref.byteOffset + p.ringOffset },
        { capacity: p.ringCapacity, recordWords: 1 },
      );
      const indices = Int32Array.from({ length: p.count }, (_, i) => i);
      ring.pushBatch(indices, 0, p.count);
    });
    Atomics.store(words, HDR_MAGIC, ARENA_MAGIC);
    return new PayloadArena(ref);
  }

  static attach(ref: SharedRef): PayloadArena {
    return new PayloadArena(ref);
  }

  /**
   * A block of at least `bytes` bytes, or -1 when every class that fits is empty right now.
   * Throws PayloadTooLargeError when no class could ever fit it.
   */
  tryAlloc(bytes: number): number {
    this.checkSize(bytes);
    const n = this.rings.length;
    let c = 0;
    while (this.blockBytes[c]! < bytes) c++;
    for (; c < n; c++) {
      if (this.rings[c]!.pop(this.scratch, 0)) {
        const index = this.scratch[0]!;
        Atomics.store(this.states[c]!, index, BLOCK_USED);
        return (c << ARENA_HANDLE_SHIFT) | index;
      }
    }
    return -1;
  }

  /** Like tryAlloc, but blocks the calling thread (a worker) until a block is free. */
  alloc(bytes: number, timeoutMs = Infinity): number {
    this.checkSize(bytes);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const epoch = this.beginWait();
      const h = this.tryAlloc(bytes);
      if (h >= 0) return this.endWait(h);
      const left = deadline - performance.now();
      if (left <= 0) this.timeout(bytes, timeoutMs);
      Atomics.wait(this.header, ARENA_FREE_EPOCH, epoch, left);
      Atomics.sub(this.header, ARENA_WAITERS, 1);
    }
  }

  /** Like alloc, without blocking the thread: for the main thread. */
  async allocAsync(bytes: number, timeoutMs = Infinity): Promise<number> {
    this.checkSize(bytes);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const epoch = this.beginWait();
      const h = this.tryAlloc(bytes);
      if (h >= 0) return this.endWait(h);
      const left = deadline - performance.now();
      if (left <= 0) this.timeout(bytes, timeoutMs);
      const r = Atomics.waitAsync(this.header, ARENA_FREE_EPOCH, epoch, left);
      if (r.async) await r.value;
      Atomics.sub(this.header, ARENA_WAITERS, 1);
    }
  }

  /** Returns a block. Throws on a handle that is not a live block (double free, forged handle). */
  free(handle: number): void {
    const c = handle >>> ARENA_HANDLE_SHIFT;
    const index = handle & (MAX_BLOCKS_PER_CLASS - 1);
    const states = this.states[c];
    if (handle < 0 || states === undefined || index >= this.counts[c]!) {
      throw new InvalidArgumentError("arena.free(handle)", `got ${handle}, which is no block of this arena`);
    }
    if (Atomics.compareExchange(states, index, BLOCK_USED, BLOCK_FREE) !== BLOCK_USED) {
      throw new InvalidArgumentError("arena.free(handle)", `block ${handle} is not allocated (freed twice?)`);
    }
    this.scratch[0] = index;
    this.rings[c]!.push(this.scratch, 0); // cannot be full: the ring holds every block of its class
    // F2: wake waiters only when one said it waits (PROTOCOL.md, "Arena").
    if (Atomics.load(this.header, ARENA_WAITERS) > 0) {
      Atomics.add(this.header, ARENA_FREE_EPOCH, 1);
      Atomics.notify(this.header, ARENA_FREE_EPOCH);
    }
  }

  /** Byte offset of the block in `ref.buffer` (and in `u8`). */
  byteOffset(handle: number): number {
    const c = handle >>> ARENA_HANDLE_SHIFT;
    return this.dataOffsets[c]! + (handle & (MAX_BLOCKS_PER_CLASS - 1)) * this.blockBytes[c]!;
  }

  /** Usable bytes of the block behind `handle`. */
  capacityOf(handle: number): number {
    return this.blockBytes[handle >>> ARENA_HANDLE_SHIFT]!;
  }

  /** Free blocks per class; a snapshot. */
  freeBlocks(): number[] {
    return this.rings.map((r) => r.size());
  }

  private beginWait(): number {
    const epoch = Atomics.load(this.header, ARENA_FREE_EPOCH);
    Atomics.add(this.header, ARENA_WAITERS, 1); // W1: announce before the last look
    return epoch;
  }

  private endWait(handle: number): number {
    Atomics.sub(this.header, ARENA_WAITERS, 1);
    return handle;
  }

  private checkSize(bytes: number): void {
    if (bytes >= 0 && bytes <= this.maxPayload) return;
    if (typeof bytes !== "number" || !(bytes >= 0)) {
      throw new InvalidArgumentError("arena.alloc(bytes)", `must be a non-negative number, got ${bytes}`);
    }
    throw new PayloadTooLargeError(bytes, this.maxPayload);
  }

  private timeout(bytes: number, timeoutMs: number): never {
    Atomics.sub(this.header, ARENA_WAITERS, 1);
    throw new TimeoutError(`no arena block of ${bytes} bytes came free within ${timeoutMs} ms`);
  }
}
