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
 * is an error, not a corruption. Nothing ever waits here: when no block fits, `tryAlloc` returns
 * -1 and the caller takes another path (PROTOCOL.md, "Arena" and "Progress"). One arena is one
 * segment of a pool's payload store; its number rides in every handle it gives out.
 */
import { InvalidArgumentError } from "../errors.ts";
import { Injector } from "./injector.ts";
import {
  ACLS_BLOCK_BYTES, ACLS_COUNT, ACLS_DATA_OFFSET, ACLS_RING_OFFSET, ACLS_STATE_OFFSET, ARENA_CLASSES,
  ARENA_CLASS_FIELDS, ARENA_CLASS_SHIFT, ARENA_INDEX_MASK, ARENA_MAGIC, ARENA_MAX_CLASSES, ARENA_MAX_SEGMENTS,
  ARENA_NUM_CLASSES, ARENA_SEGMENT, ARENA_SEGMENT_SHIFT, ARENA_TOTAL_BYTES, BLOCK_FREE, BLOCK_USED, HDR_MAGIC,
  LINE_BYTES, WORD_BYTES, alignUp, attachHeader, checkRoom, nextPowerOfTwo, type SharedRef,
} from "./layout.ts";

export interface SizeClass {
  /** Bytes per block, a multiple of 8. */
  blockBytes: number;
  /** Number of blocks. */
  count: number;
}

const MAX_BLOCKS_PER_CLASS = ARENA_INDEX_MASK + 1;

/** Block sizes a pool's arena uses, smallest first: each 4x the last, up to 1 MiB. */
const BLOCK_SIZES = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

/**
 * Size classes for an arena of about `bytes`: every block size up to an eighth of it, each class
 * given an equal share of the bytes (so 8 MiB holds 16384 blocks of 64 B ... one of 1 MiB).
 */
export function sizeClassesFor(bytes: number): SizeClass[] {
  const sizes = BLOCK_SIZES.filter((b, i) => i === 0 || b <= bytes / 8);
  const share = bytes / sizes.length;
  return sizes.map((blockBytes) => ({ blockBytes, count: Math.max(1, Math.min(MAX_BLOCKS_PER_CLASS - 1, Math.floor(share / blockBytes))) }));
}

/** 8 MiB: the default arena segment of a pool. */
export const DEFAULT_SIZE_CLASSES: readonly SizeClass[] = sizeClassesFor(8 << 20);

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

const NAP = new Int32Array(new SharedArrayBuffer(4));
/** How long a free retries a push whose cell a popping thread still holds (ARENA F2). */
const PUSH_RETRY_MS = 1000;
let warnedLost = false;

export class PayloadArena {
  readonly ref: SharedRef;
  /** The whole buffer as bytes; a block's bytes start at `byteOffset(handle)`. */
  readonly u8: Uint8Array;
  /** The largest payload any block holds. */
  readonly maxPayload: number;
  /** Which segment of its pool's payload store this is (bits 25-30 of every handle). */
  readonly segment: number;
  private readonly rings: Injector[] = [];
  private readonly states: Int32Array[] = [];
  private readonly blockBytes: number[] = [];
  private readonly counts: number[] = [];
  private readonly dataOffsets: number[] = [];
  private readonly scratch = new Int32Array(1);
  /** This segment's number, in place in a handle. */
  private readonly tag: number;

  private constructor(ref: SharedRef) {
    const total = attachHeader("arena", ref, ARENA_MAGIC)[ARENA_TOTAL_BYTES]!;
    this.ref = { buffer: ref.buffer, byteOffset: ref.byteOffset };
    this.u8 = new Uint8Array(ref.buffer, 0, ref.byteOffset + total);
    const words = new Int32Array(ref.buffer, ref.byteOffset, HEADER_BYTES / WORD_BYTES);
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
    this.segment = words[ARENA_SEGMENT]!;
    this.tag = this.segment << ARENA_SEGMENT_SHIFT;
  }

  static bytesFor(classes: readonly SizeClass[] = DEFAULT_SIZE_CLASSES): number {
    return planArena(classes).totalBytes;
  }

  static allocate(classes: readonly SizeClass[] = DEFAULT_SIZE_CLASSES, segment = 0): PayloadArena {
    const buffer = new SharedArrayBuffer(PayloadArena.bytesFor(classes));
    return PayloadArena.init({ buffer, byteOffset: 0 }, classes, segment);
  }

  /** Lays out a new arena with every block free at `ref` (sized with `bytesFor`); `segment` tags its handles. */
  static init(ref: SharedRef, classes: readonly SizeClass[] = DEFAULT_SIZE_CLASSES, segment = 0): PayloadArena {
    const { plans, totalBytes } = planArena(classes);
    checkRoom("arena", ref.buffer, ref.byteOffset, totalBytes);
    if (!Number.isInteger(segment) || segment < 0 || segment >= ARENA_MAX_SEGMENTS) {
      throw new InvalidArgumentError("arena segment", `must be an integer in 0..${ARENA_MAX_SEGMENTS - 1}, got ${segment}`);
    }
    const words = new Int32Array(ref.buffer, ref.byteOffset, HEADER_BYTES / WORD_BYTES);
    words[ARENA_NUM_CLASSES] = plans.length;
    words[ARENA_TOTAL_BYTES] = totalBytes;
    words[ARENA_SEGMENT] = segment;
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

  /** A block of at least `bytes` bytes, or -1 when no class that fits has a free block right now. */
  tryAlloc(bytes: number): number {
    const n = this.rings.length;
    if (!(bytes <= this.maxPayload)) return -1;
    let c = 0;
    while (this.blockBytes[c]! < bytes) c++;
    for (; c < n; c++) {
      if (this.rings[c]!.pop(this.scratch, 0)) {
        const index = this.scratch[0]!;
        Atomics.store(this.states[c]!, index, BLOCK_USED); // ARENA-A1
        return this.tag | (c << ARENA_CLASS_SHIFT) | index;
      }
    }
    return -1;
  }

  /** Returns a block. Throws on a handle that is not a live block (double free, forged handle). */
  free(handle: number): void {
    const c = (handle >>> ARENA_CLASS_SHIFT) & (ARENA_MAX_CLASSES - 1);
    const index = handle & ARENA_INDEX_MASK;
    const states = this.states[c];
    if (handle < 0 || (handle & ~((1 << ARENA_SEGMENT_SHIFT) - 1)) !== this.tag || states === undefined || index >= this.counts[c]!) {
      throw new InvalidArgumentError("arena.free(handle)", `got ${handle}, which is no block of this arena`);
    }
    if (Atomics.compareExchange(states, index, BLOCK_USED, BLOCK_FREE) !== BLOCK_USED) { // ARENA-F1
      throw new InvalidArgumentError("arena.free(handle)", `block ${handle} is not allocated (freed twice?)`);
    }
    this.scratch[0] = index;
    if (!this.rings[c]!.push(this.scratch, 0)) this.pushAgain(c); // ARENA-F2
  }

  /**
   * The ring holds every block of its class, so it is never really full. A push still finds its
   * cell taken while the pop of that cell one lap earlier is between its claim (INJ C2) and its
   * release (INJ C3): a few instructions of another thread, so the push is retried. Only a thread
   * that died inside those instructions keeps the cell; after PUSH_RETRY_MS the block is given up
   * (said once) rather than hang this thread.
   */
  private pushAgain(c: number): void {
    const until = performance.now() + PUSH_RETRY_MS;
    do {
      Atomics.wait(NAP, 0, 0, 0.01);
      if (this.rings[c]!.push(this.scratch, 0)) return;
    } while (performance.now() < until);
    if (!warnedLost) {
      warnedLost = true;
      console.error(`bun-thread-manager: an arena block of ${this.blockBytes[c]} bytes could not be returned to its free list for ${PUSH_RETRY_MS} ms (a thread died inside the list?); it stays out of use`);
    }
  }

  /** Byte offset of the block in `ref.buffer` (and in `u8`). */
  byteOffset(handle: number): number {
    const c = (handle >>> ARENA_CLASS_SHIFT) & (ARENA_MAX_CLASSES - 1);
    return this.dataOffsets[c]! + (handle & ARENA_INDEX_MASK) * this.blockBytes[c]!;
  }

  /** Usable bytes of the block behind `handle`. */
  capacityOf(handle: number): number {
    return this.blockBytes[(handle >>> ARENA_CLASS_SHIFT) & (ARENA_MAX_CLASSES - 1)]!;
  }

  /** Bytes of all blocks together. */
  get capacity(): number {
    return this.blockBytes.reduce((sum, b, c) => sum + b * this.counts[c]!, 0);
  }

  /** Bytes of the blocks free now; a snapshot. */
  get freeBytes(): number {
    return this.rings.reduce((sum, r, c) => sum + r.size() * this.blockBytes[c]!, 0);
  }

  /** Free blocks per class; a snapshot. */
  freeBlocks(): number[] {
    return this.rings.map((r) => r.size());
  }
}
