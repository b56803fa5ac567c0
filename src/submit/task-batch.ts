/**
 * `pool.map(handler, args)`: many tasks of one handler under one promise, results in argument
 * order. Items are submitted in order while the submitter has room (max_queue), the rest as
 * earlier ones settle, so a batch larger than the queue still runs. No promise per item: each
 * item's outcome reaches the batch through its Settle, which is what makes a batch cheaper per
 * task than one `run()` each (the main thread's per-promise bookkeeping is the ceiling there).
 *
 * Outcome: by default the first failing item rejects the batch with its error, and the items
 * still queued or running are cancelled (as an abort would); with `settle: true` every item's
 * outcome is kept ({ status, value | reason }, as Promise.allSettled). `signal` aborts the whole
 * batch. Concurrency contract: thread-local, like its Submitter.
 */
import { PoolClosedError } from "../errors.ts";
import { ID_GEN_SHIFT, ID_SLOT_MASK, KIND_CHUNK, TASK_GEN_MASK } from "../shm/layout.ts";
import type { RunOptions } from "./run-options.ts";
import type { Encode, Submitter } from "./submitter.ts";
import { ChunkSettle, MAX_CHUNK, chunkLength, chunksInFlight, countSubmitted, encodeChunk, type ChunkHost } from "./task-chunk.ts";
import type { Settle } from "./task-table.ts";

export interface MapOptions extends Omit<RunOptions, "transfer"> {
  /** Keep every item's outcome (as Promise.allSettled) instead of rejecting at the first error. */
  settle?: boolean;
}

export type Settled<T> = { status: "fulfilled"; value: T } | { status: "rejected"; reason: unknown };

/** An item's place in its batch: whether it has a slot yet, and whether it settled. */
const WAITING = -1;
const SETTLED = -2;
/** Marks an item's id as its chunk's (task-chunk.ts); a pool task's id never has bit 30 (that is a join half's). */
const IN_CHUNK = 1 << 30;

class BatchItem implements Settle {
  constructor(
    private readonly batch: TaskBatch,
    private readonly index: number,
  ) {}

  resolve(value: unknown): void {
    this.batch.fulfilled(this.index, value);
  }

  reject(reason: unknown): void {
    this.batch.rejected(this.index, reason);
  }

  queued(id: number): void {
    this.batch.queued(this.index, id);
  }

  dropped(): boolean {
    return this.batch.over;
  }
}

export class TaskBatch implements ChunkHost {
  private readonly results: unknown[];
  /** Per item: its record id while it has a slot, WAITING before, SETTLED after. */
  private readonly ids: Int32Array;
  private readonly out = Promise.withResolvers<unknown[]>();
  private next = 0;
  private left: number;
  over = false;
  private feeding = false;
  /** Items in [soloFrom, soloTo) go as tasks of their own: a chunk of them was refused (task-chunk.ts). */
  private soloFrom = 0;
  private soloTo = 0;
  /** Most items a chunk offers: lowered to what a chunk cut short by its thread's budget ran. */
  private chunkCap = MAX_CHUNK;
  /** Items of chunks cut short, never run, to submit again before the next new ones (ranges [from, to)). */
  private readonly redo: Array<{ from: number; to: number }> = [];
  /** Chunks queued or running, at most maxChunks: enough to keep every thread busy, while a big batch holds little arena and loop time. */
  private chunks = 0;
  private readonly maxChunks: number;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly sub: Submitter,
    private readonly handler: string,
    private readonly h: number,
    private readonly kind: number,
    private readonly args: ArrayLike<unknown>,
    private readonly encode: Encode<unknown>,
    private readonly settleAll: boolean,
    private readonly signal: AbortSignal | undefined,
    /** The pool's threads when its handlers are sync (compute): items go in chunks; 0: one task each. */
    private readonly chunkThreads = 0,
  ) {
    this.left = args.length;
    this.maxChunks = chunksInFlight(sub.lane, chunkThreads);
    this.results = new Array(args.length);
    this.ids = new Int32Array(args.length).fill(WAITING);
    if (signal) {
      this.onAbort = () => this.cancel(signal.reason);
      signal.addEventListener("abort", this.onAbort, { once: true });
    }
  }

  /** Submits what fits and returns the batch's promise. */
  start(): Promise<unknown[]> {
    if (this.left === 0) this.finish();
    else this.feed();
    return this.out.promise;
  }

  queued(i: number, id: number): void {
    this.ids[i] = id;
  }

  chunkQueued(from: number, count: number, id: number): void {
    this.ids.fill(id | IN_CHUNK, from, from + count);
    this.chunks++;
  }

  chunkFailed(): void {
    this.chunks--;
    this.feed();
  }

  refused(from: number, count: number): boolean {
    if (!this.feeding) return false;
    this.soloFrom = from;
    this.soloTo = from + count;
    return true;
  }

  chunkRan(from: number, count: number, ran: number): void {
    this.chunks--;
    if (this.over) return;
    if (ran === count) {
      this.chunkCap = Math.min(MAX_CHUNK, Math.max(this.chunkCap, 2 * count)); // it fit: offer more again
    } else {
      this.chunkCap = Math.max(2, ran); // what fit the thread's budget (2 at least: only a chunk that fits lets it grow again)
      this.ids.fill(WAITING, from + ran, from + count);
      this.redo.push({ from: from + ran, to: from + count });
    }
    this.feed();
  }

  fulfilled(i: number, value: unknown): void {
    if (this.over || this.ids[i] === SETTLED) return;
    this.ids[i] = SETTLED;
    this.results[i] = this.settleAll ? { status: "fulfilled", value } : value;
    this.settled();
  }

  rejected(i: number, reason: unknown): void {
    if (this.over || this.ids[i] === SETTLED) return;
    this.ids[i] = SETTLED;
    if (this.settleAll) {
      this.results[i] = { status: "rejected", reason };
      return this.settled();
    }
    this.cancel(reason);
  }

  private settled(): void {
    if (--this.left === 0) this.finish();
    else if (this.next < this.args.length || this.redo.length > 0) this.feed(); // a slot came free: the next item may take it
  }

  /** Items `from`..`from + count` were submitted: they leave the front of what is still to submit. */
  private taken(from: number, count: number): void {
    const r = this.redo[0];
    if (r === undefined || r.from !== from) return void (this.next = from + count);
    r.from += count;
    if (r.from >= r.to) this.redo.shift();
  }

  /** Submits items in order while the submitter has room; re-entered from a synchronous settle, it leaves the loop to the outer call. */
  private feed(): void {
    if (this.feeding) return;
    this.feeding = true;
    try {
      while (!this.over && this.sub.room > 0) {
        if (this.sub.refusing !== undefined || this.sub.target.lanes.closing) return this.closeUnsent();
        const r = this.redo[0];
        const i = r?.from ?? this.next;
        const end = r?.to ?? this.args.length;
        if (i >= end) break;
        const chunked = this.chunkThreads > 0 && !(i >= this.soloFrom && i < this.soloTo) && this.sub.admission.waiting === 0;
        if (chunked && this.chunks >= this.maxChunks) break; // more as chunks come back
        const n = chunked ? chunkLength(this.args, i, Math.min(end, i + this.chunkCap), this.chunkThreads) : 0;
        if (n < 2) {
          this.taken(i, 1);
          this.sub.accept(this.handler, this.h, this.kind, undefined, this.args[i], this.encode, new BatchItem(this, i));
          continue;
        }
        const chunk = new ChunkSettle(this, this.sub, this.handler, this.args, i, n, !this.settleAll);
        this.sub.accept(this.handler, this.h, KIND_CHUNK, undefined, chunk, encodeChunk, chunk);
        if (chunk.inQueue) this.taken(i, chunk.count); // else it was refused: its items go one by one
      }
    } finally {
      this.feeding = false;
    }
  }

  /**
   * The pool closes: items not yet sent never are (a close, draining or not, ends a map where it
   * stands); they settle with PoolClosedError and count as submitted and cancelled.
   */
  private closeUnsent(): void {
    const reason = new PoolClosedError(this.sub.name, "was closed before this item of a map was sent");
    if (!this.settleAll) return this.cancel(reason);
    const unsent: number[] = [];
    this.dropUnsent((i) => unsent.push(i));
    for (const i of unsent) this.rejected(i, reason);
  }

  /**
   * Items never sent (the rest of the list, and the items of chunks cut short that were to go
   * again) leave the batch, each told to `each`; they count as submitted and cancelled: a map counts
   * each item.
   */
  private dropUnsent(each?: (i: number) => void): void {
    let n = this.args.length - this.next;
    for (const r of this.redo) {
      n += r.to - r.from;
      if (each) for (let i = r.from; i < r.to; i++) each(i);
    }
    if (each) for (let i = this.next; i < this.args.length; i++) each(i);
    this.redo.length = 0;
    this.next = this.args.length;
    countSubmitted(this.sub, n);
    this.sub.counts.cancelled += n;
  }

  /** Ends the batch with `reason`: items with a slot are aborted (a queued one never runs), the rest never start. */
  private cancel(reason: unknown): void {
    if (this.over) return;
    this.over = true;
    this.unwatch();
    const sent = this.next;
    this.dropUnsent();
    if (reason instanceof PoolClosedError) return void this.out.reject(reason); // the closing pool cancels or finishes every item itself
    let last = -1;
    for (let i = 0; i < sent; i++) {
      const id = this.ids[i]!;
      if (id < 0) continue; // settled, or waiting for arena room (the admission drops it: BatchItem.dropped)
      this.ids[i] = SETTLED;
      if (id === last) continue; // the rest of a chunk
      last = id;
      // CHUNK-M2: a running chunk is not settled here: its completion still comes and frees its items' results.
      this.sub.abort(id & ID_SLOT_MASK, (id >>> ID_GEN_SHIFT) & TASK_GEN_MASK, reason, (id & IN_CHUNK) === 0);
    }
    this.out.reject(reason);
  }

  private finish(): void {
    this.over = true;
    this.unwatch();
    this.out.resolve(this.results);
  }

  private unwatch(): void {
    if (this.onAbort) this.signal!.removeEventListener("abort", this.onAbort);
  }
}
