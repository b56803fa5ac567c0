/**
 * pool.map's chunks on a compute pool: up to MAX_CHUNK items of one batch under one task record
 * (worker side: src/worker/chunk-runner.ts). A tiny task's cost is mostly per record: a slot, a
 * claim, a completion, a settle. A chunk pays those once for its items and keeps per item what a
 * caller can tell apart: its own call, its own result and error, and the same encoding and limits
 * as a task of its own (each item's argument and result is encoded on its own).
 *
 * - The argument is a word array: flags, then (type, a, b) per item, as a task record would hold
 *   them. Items that are byte arrays or over an arena block stay out of chunks (their mailed-copy,
 *   transfer and own-buffer paths need a record of their own), and a chunk ends once its items took
 *   CHUNK_ARG_BYTES of arena. At most CHUNKS_IN_FLIGHT_PER_THREAD chunks of a batch are queued or
 *   running per thread; the rest of the batch waits in the caller's (copied) list.
 * - An item the codec refuses (cannot be cloned, too large) or that finds no arena room ends the
 *   chunk before it; when it is the first, it goes as a task of its own, so only it fails (or
 *   waits for room), with its own error.
 * - The result is CHUNK_ITEM_WORDS words per item (status, type, a, b). Each item settles on its
 *   own; an item's encoded result is freed even when its batch has ended meanwhile.
 * - A cancelled batch aborts its chunks without settling them (TaskBatch.cancel): their completion
 *   still comes back here, and the results it names are freed.
 * - Metrics count a chunk that ran as its items (submitted, completed, failed, cancelled); one that
 *   failed whole (its thread died, the pool closed) counts once. A chunk is one task in the wait
 *   and run histograms, the queue depth and the scaling rule.
 *
 * Concurrency contract: thread-local, like its batch and Submitter.
 */
import type { ValueCodec } from "../common/codec.ts";
import { refusalFrom, taskErrorFrom } from "../common/error-codec.ts";
import { PoolClosedError, WorkerCrashedError } from "../errors.ts";
import {
  CHUNK_ARG_WORDS, CHUNK_ITEM_WORDS, CHUNK_STOP_AT_ERROR, DONE_CRASHED, DONE_OK, DONE_SKIPPED, DONE_UNSENDABLE, KIND_CHUNK, OP_KIND_SHIFT,
  OP_TYPE_MASK, OP_TYPE_SHIFT,
} from "../shm/layout.ts";
import type { Submitter } from "./submitter.ts";
import type { Settle } from "./task-table.ts";

/** Most items in one chunk: 256 and 512 gave the same tiny-task rate (bench/README.md), 256 keeps a chunk's payloads small. */
export const MAX_CHUNK = 256;
/** A batch is cut into at least this many chunks per thread, so its last chunk leaves no thread idle for long. */
const CHUNKS_PER_THREAD = 4;
/**
 * Chunks of one batch queued or running at once, per thread (32 to 1024 in all): the rest waits in
 * the batch's list. Fewer cost a tiny-task map its rate (the main thread refills a chunk per
 * completion: 4 a thread lost a third, 16 a tenth against no bound, bench/README.md); with 64 a
 * 2-thread pool's batch holds ~0.9 MiB of chunk words at most, where a 300k-item map queued at
 * once took 8 MB and failed a pool thread's map for want of arena.
 */
const CHUNKS_IN_FLIGHT_PER_THREAD = 64;
/**
 * The same for a map called from a pool thread (8 to 1024 in all): its chunks' words and results
 * live in the pool's first arena segment (the only one a lane sees), whose 4 KiB class holds 256
 * blocks, one for a 256-item chunk's words and one for its results. With 64, two or three such maps
 * at once exhausted it and failed whole chunks (PayloadTooLargeError); 8 still keeps threads busy.
 */
const LANE_CHUNKS_IN_FLIGHT_PER_THREAD = 8;

/** Chunks a batch keeps queued or running at once: from the main thread (lane 0) or a pool thread's lane, over `threads`. */
export function chunksInFlight(lane: number, threads: number): number {
  return lane === 0
    ? Math.min(1024, Math.max(32, CHUNKS_IN_FLIGHT_PER_THREAD * threads))
    : Math.min(1024, Math.max(8, LANE_CHUNKS_IN_FLIGHT_PER_THREAD * threads));
}
/** A chunk ends once its items' arguments took this much arena: the record saved no longer matters beside their copies. */
const CHUNK_ARG_BYTES = 64 << 10;

/** What a chunk tells its batch (task-batch.ts). */
export interface ChunkHost {
  /** The batch has ended (resolved, rejected or cancelled): outcomes that arrive now are only freed. */
  readonly over: boolean;
  /** Items from..from+count went under the record `id`. */
  chunkQueued(from: number, count: number, id: number): void;
  /** A queued chunk failed whole (its items are rejected next): it no longer counts as in flight. */
  chunkFailed(): void;
  /** A chunk of `count` items came back having run the first `ran` (its thread's budget may cut it short): the rest go again. */
  chunkRan(from: number, count: number, ran: number): void;
  fulfilled(i: number, value: unknown): void;
  rejected(i: number, reason: unknown): void;
  /** The chunk could not be queued while the batch was queuing it: true when its items go one by one instead. */
  refused(from: number, count: number): boolean;
}

/** Thrown by encodeChunk when its first item finds no arena room or is over a block: that item goes alone (and may wait for room). */
class NoRoom extends Error {}

function isBytes(x: unknown): boolean {
  return x instanceof ArrayBuffer || x instanceof SharedArrayBuffer || ArrayBuffer.isView(x);
}

/** How many of the items from `from` (up to `end`) may go in the next chunk; below 2: the next item is a task of its own. */
export function chunkLength(args: ArrayLike<unknown>, from: number, end: number, threads: number): number {
  const want = Math.min(MAX_CHUNK, end - from, Math.floor((args.length - from) / (threads * CHUNKS_PER_THREAD)));
  let n = 0;
  while (n < want && !isBytes(args[from + n])) n++;
  return n;
}

/**
 * The chunk's argument, as an Encode (submitter.ts): each item's argument encoded on its own, their
 * (type, a, b) in one word array encoded last. May take fewer items than `chunk.count` (it then
 * says how many); what the items hold (arena bytes, shared buffers kept alive) becomes the chunk task's.
 */
export function encodeChunk(codec: ValueCodec, chunk: ChunkSettle, handler: string): number {
  const { args, from } = chunk;
  const out = codec.out;
  const words = new Int32Array(new ArrayBuffer((1 + chunk.count * CHUNK_ARG_WORDS) * 4)); // over its own buffer: the codec reads `.buffer`
  words[0] = chunk.stopAtError ? CHUNK_STOP_AT_ERROR : 0;
  let bytes = 0;
  const named: SharedArrayBuffer[] = [];
  let m = 0;
  for (; m < chunk.count && bytes < CHUNK_ARG_BYTES; m++) {
    let needed: number;
    try {
      needed = codec.encode(args[from + m], "argument", handler);
    } catch (e) {
      if (m > 0) break; // it fails alone, as the next chunk's first item
      chunk.count = 1;
      throw e;
    }
    if (needed === 0 && codec.transients.length > 0) {
      // Over a block: it went into a shared buffer of its own, registered with every thread. Nothing to
      // gain in a chunk: it goes as a task of its own (as run() would send it), encoded again then.
      codec.release(out[0]!, out[1]!);
      for (const id of codec.transients) codec.shared.release(id);
      needed = -1;
    }
    if (needed !== 0) {
      if (m > 0) break;
      chunk.count = 1;
      throw new NoRoom();
    }
    const at = 1 + m * CHUNK_ARG_WORDS; // CHUNK-S1 (three stores: TypedArray.set per item cost ~14% of a tiny-task map)
    words[at] = out[0]!;
    words[at + 1] = out[1]!;
    words[at + 2] = out[2]!;
    bytes += codec.arenaBytes;
    if (codec.named.length) named.push(...codec.named);
  }
  const taken = m === chunk.count ? words : words.subarray(0, 1 + m * CHUNK_ARG_WORDS); // no words for items it did not take
  chunk.count = m;
  let more: number;
  try {
    more = codec.encode(taken, "map chunk", handler);
  } catch {
    more = -1;
  }
  if (more !== 0) {
    for (let k = 0; k < m; k++) codec.release(words[1 + k * CHUNK_ARG_WORDS]!, words[2 + k * CHUNK_ARG_WORDS]!);
    throw new NoRoom(); // no room for the words themselves: its items go one by one
  }
  codec.arenaBytes += bytes;
  codec.named.push(...named);
  return 0;
}

/**
 * Frees what a completion nobody will read holds (its task was settled already, or its lane's
 * thread is gone): its result or error, and for a map chunk the results its words name, then the words.
 */
export function releaseCompletion(codec: ValueCodec, op: number, a: number, b: number): void {
  const status = op & 0xf;
  if (status === DONE_SKIPPED || status === DONE_CRASHED) return; // nothing encoded (a crash's `a` is the runner)
  const type = (op >>> OP_TYPE_SHIFT) & OP_TYPE_MASK;
  if (status !== DONE_OK || ((op >>> OP_KIND_SHIFT) & 3) !== KIND_CHUNK) return codec.release(type, a);
  const words = codec.take(type, a, b);
  if (words instanceof Int32Array) releaseChunkResults(codec, words);
}

/** Frees the results a chunk's result words name (CHUNK_ITEM_WORDS per item; a skipped item has none). Main thread, or the worker whose words could not be sent. */
export function releaseChunkResults(codec: ValueCodec, words: Int32Array): void {
  for (let at = 0; at + 3 < words.length; at += CHUNK_ITEM_WORDS) if (words[at] !== DONE_SKIPPED) codec.release(words[at + 1]!, words[at + 2]!);
}

/** Items counted as submitted beyond one per record (a thread's lane publishes its counts after each drain). */
export function countSubmitted(sub: Submitter, n: number): void {
  sub.counts.submitted += n;
}

/** One chunk: which items, and how each learns its outcome. */
export class ChunkSettle implements Settle {
  private id = -1;
  /** It ran past task_timeout_ms: its item running then fails with this, the others keep their outcomes. */
  private timeout: Error | undefined;
  /** Its thread died: the index of the item it had started last (-1: none); the items after it never ran. */
  private diedAt = Infinity;

  constructor(
    private readonly batch: ChunkHost,
    private readonly sub: Submitter,
    private readonly handler: string,
    readonly args: ArrayLike<unknown>,
    readonly from: number,
    /** Items it may take; encodeChunk lowers it to those it took. */
    public count: number,
    readonly stopAtError: boolean,
  ) {}

  /** It took a slot (else the codec refused it at the call). */
  get inQueue(): boolean {
    return this.id >= 0;
  }

  queued(id: number): void {
    this.id = id;
    countSubmitted(this.sub, this.count - 1); // the submitter counted the chunk as one
    this.batch.chunkQueued(this.from, this.count, id);
  }

  died(at: number): void {
    this.diedAt = Math.max(-1, Math.min(at, this.count - 1));
  }

  timedOut(error: Error): boolean {
    this.timeout = error;
    return true; // not settled now: the abort flag stops it after the item that overran, and its completion comes
  }

  /** The chunk ran: settle each item's outcome, or once the batch is over, only free it. */
  resolve(value: unknown): void {
    const words = value as Int32Array;
    const { codec, counts, name } = this.sub;
    const last = this.lastRun(words);
    let ok = 0;
    let failed = 0;
    let skipped = 0; // a suffix: the items after where the thread stopped
    for (let k = 0; k < this.count; k++) {
      const at = k * CHUNK_ITEM_WORDS;
      const status = words[at]!;
      if (status === DONE_SKIPPED) {
        skipped++;
        continue;
      }
      const type = words[at + 1]!;
      if (this.batch.over) { // CHUNK-M1: only freed
        if (status === DONE_OK) ok++;
        else failed++;
        codec.release(type, words[at + 2]!);
        continue;
      }
      let out: unknown;
      let decoded = true;
      try {
        out = codec.take(type, words[at + 2]!, words[at + 3]!);
      } catch (e) {
        decoded = false;
        out = e;
      }
      if (k === last && this.timeout !== undefined) {
        failed++;
        this.batch.rejected(this.from + k, this.timeout);
        continue;
      }
      if (decoded && status === DONE_OK) {
        ok++;
        this.batch.fulfilled(this.from + k, out);
        continue;
      }
      failed++;
      const reason = !decoded ? out : status === DONE_UNSENDABLE ? refusalFrom(name, this.handler, out) : taskErrorFrom(name, this.handler, out);
      this.batch.rejected(this.from + k, reason);
    }
    counts.completed += ok - 1; // the submitter counted the chunk as one completed task
    counts.failed += failed;
    if (skipped > 0 && this.batch.over) counts.cancelled += skipped; // stopped by the batch's end (its first error, its signal)
    else if (skipped > 0) countSubmitted(this.sub, -skipped); // CHUNK-M3: cut short by its thread's budget; they count when they go again
    this.batch.chunkRan(this.from, this.count, this.count - skipped);
  }

  /** The chunk failed as a whole (cancelled, its thread died, the pool closed, or the codec refused it): so does each item. */
  reject(reason: unknown): void {
    if (this.id >= 0 && this.diedAt < this.count - 1 && !this.batch.over) return this.diedMidway(reason);
    if (this.id < 0) {
      if (this.batch.refused(this.from, this.count)) return; // refused at the call: never counted, as for run()
    } else {
      this.batch.chunkFailed();
      reason = this.timeout ?? reason; // its thread was replaced after a timeout: the timeout is why
      // The submitter counted the chunk once, by why it ended; its other items count the same way.
      const counts = this.sub.counts;
      const extra = this.count - 1;
      if (this.batch.over || reason instanceof PoolClosedError) counts.cancelled += extra;
      else if (reason instanceof WorkerCrashedError) counts.crashed += extra;
      else counts.failed += extra;
    }
    for (let k = 0; k < this.count; k++) this.batch.rejected(this.from + k, reason);
  }

  /** The index of the last item the chunk ran (the one running when a timeout stopped it), or -1. */
  private lastRun(words: Int32Array): number {
    let k = this.count - 1;
    while (k >= 0 && words[k * CHUNK_ITEM_WORDS] === DONE_SKIPPED) k--;
    return k;
  }

  /**
   * CHUNK-K3: its thread died (or was replaced, stuck past a timeout) after starting item `diedAt`:
   * that item fails (with the timeout, if it overran), the items before it too (they ran; their
   * results died with the thread), and the items after it, which never started, go again.
   */
  private diedMidway(reason: unknown): void {
    const ran = this.diedAt + 1;
    const counts = this.sub.counts;
    if (ran > 0) counts.crashed += ran - 1; // the submitter counted the chunk as one crashed task
    else counts.crashed--; // none started: nothing of it crashed
    countSubmitted(this.sub, -(this.count - ran)); // they count when they go again
    this.batch.chunkRan(this.from, this.count, ran); // first: a rejection below may end the batch, which then counts them
    for (let k = 0; k < ran; k++) this.batch.rejected(this.from + k, k === this.diedAt && this.timeout ? this.timeout : reason);
  }
}
