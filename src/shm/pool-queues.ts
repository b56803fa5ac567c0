/**
 * The producer side of one pool's queues: one SharedArrayBuffer holding the injector, one deque per
 * worker, one inbox per worker (records only that worker may run: a task whose argument was mailed
 * to it, run's `transfer` option) and the idle state, laid out together. The main thread (or any thread that submits)
 * allocates it and hands `refs` to every worker once; each worker builds its WorkFinder from them.
 *
 * Concurrency contract: `submit`, `submitBatch`, `shutdown`: any thread. `submitTo`: the main
 * thread only (the one producer of every inbox, so the room it sees cannot shrink under it).
 */
import { InvalidArgumentError } from "../errors.ts";
import { DequeStealer, dequeBytesFor, initDeque } from "./deque.ts";
import { IdleState } from "./idle.ts";
import { Injector } from "./injector.ts";
import { LINE_BYTES, alignUp } from "./layout.ts";
import type { PoolQueueRefs } from "./work-finder.ts";

export interface PoolQueuesOptions {
  workers: number;
  /** Words per task record (1..15). */
  recordWords: number;
  /** Injector cells, a power of two. Default 4096. */
  injectorCapacity?: number;
  /** Slots per worker deque, a power of two. Default 256. */
  dequeCapacity?: number;
  /** Cells per worker inbox, a power of two. Default 256. */
  inboxCapacity?: number;
  /** Test hook: start every position here to exercise int32 wrap-around. */
  initialPosition?: number;
}

export interface SubmitResult {
  readonly published: number;
  readonly wokeWorker: boolean;
}

export class PoolQueues {
  readonly refs: PoolQueueRefs;
  readonly injector: Injector;
  readonly idle: IdleState;
  private readonly deques: DequeStealer[];
  private readonly inboxes: Injector[];

  private constructor(refs: PoolQueueRefs) {
    this.refs = refs;
    this.injector = Injector.attach(refs.injector);
    this.deques = refs.deques.map((r) => new DequeStealer(r));
    this.inboxes = refs.inboxes.map((r) => Injector.attach(r));
    this.idle = IdleState.attach(refs.idle, () => this.hasWork());
  }

  static allocate(options: PoolQueuesOptions): PoolQueues {
    const { workers, recordWords } = options;
    if (!Number.isInteger(workers) || workers < 1) {
      throw new InvalidArgumentError("pool.workers", `must be a positive integer, got ${workers}`);
    }
    const injectorCapacity = options.injectorCapacity ?? 4096;
    const dequeCapacity = options.dequeCapacity ?? 256;
    const start = options.initialPosition;
    const injBytes = alignUp(Injector.bytesFor(injectorCapacity, recordWords), LINE_BYTES);
    const deqBytes = alignUp(dequeBytesFor(dequeCapacity, recordWords), LINE_BYTES);
    const inboxCapacity = options.inboxCapacity ?? 256;
    const inbBytes = alignUp(Injector.bytesFor(inboxCapacity, recordWords), LINE_BYTES);
    const inboxAt = injBytes + workers * deqBytes;
    const idleAt = inboxAt + workers * inbBytes;
    const buffer = new SharedArrayBuffer(idleAt + IdleState.bytesFor(workers));
    const injector = Injector.init({ buffer, byteOffset: 0 }, {
      capacity: injectorCapacity, recordWords, initialPosition: start,
    }).ref;
    const deques = Array.from({ length: workers }, (_, i) =>
      initDeque({ buffer, byteOffset: injBytes + i * deqBytes }, {
        capacity: dequeCapacity, recordWords, initialPosition: start,
      }));
    const inboxes = Array.from({ length: workers }, (_, i) =>
      Injector.init({ buffer, byteOffset: inboxAt + i * inbBytes }, { capacity: inboxCapacity, recordWords, initialPosition: start }).ref);
    const idle = IdleState.init({ buffer, byteOffset: idleAt }, workers, () => false).ref;
    return new PoolQueues({ injector, deques, inboxes, idle });
  }

  /** Another thread's view of queues allocated elsewhere (a thread that submits to the pool). */
  static attach(refs: PoolQueueRefs): PoolQueues {
    return new PoolQueues(refs);
  }

  /** Queues one record and wakes a worker if needed. False when the injector is full. */
  submit(src: ArrayLike<number>, srcOffset = 0): boolean {
    if (!this.injector.push(src, srcOffset)) return false;
    this.idle.notifyOne();
    return true;
  }

  /**
   * Queues up to `count` records with one claim and at most one wake-up. Says how many it queued
   * and whether it woke a parked worker (the submitter may then want to yield its core).
   */
  submitBatch(src: ArrayLike<number>, srcOffset: number, count: number): SubmitResult {
    const published = this.injector.pushBatch(src, srcOffset, count);
    return { published, wokeWorker: published > 0 && this.idle.notifyOne() };
  }

  /**
   * INBOX-S2: queues one record in worker `seat`'s inbox, then wakes that worker if it is parked
   * (PARK U1: the record is the condition, stored first). False when the inbox is full.
   */
  submitTo(seat: number, src: ArrayLike<number>, srcOffset = 0): boolean {
    if (!this.inboxes[seat]!.push(src, srcOffset)) return false;
    this.idle.unpark(seat);
    return true;
  }

  /** Cells free in worker `seat`'s inbox (main thread: exact, as it is the only producer). */
  inboxRoom(seat: number): number {
    const inbox = this.inboxes[seat]!;
    return inbox.capacity - inbox.size();
  }

  /** Takes one record out of a dead worker's inbox (crash repair, main thread); false when empty. */
  takeFromInbox(seat: number, dst: Int32Array): boolean {
    return this.inboxes[seat]!.pop(dst);
  }

  /**
   * Lays worker `seat`'s inbox out empty again (crash repair, main thread, after takeFromInbox found
   * nothing and before a replacement starts): its one consumer died, perhaps inside a take that left
   * a cell claimed but never freed, which would refuse every push a lap later. Safe then: the main
   * thread is the inbox's only producer and nobody else consumes from it.
   */
  resetInbox(seat: number): void {
    const inbox = this.inboxes[seat]!;
    this.inboxes[seat] = Injector.init(this.refs.inboxes[seat]!, { capacity: inbox.capacity, recordWords: inbox.recordWords });
  }

  /** Records queued in the injector, every deque and every inbox; a snapshot. */
  pending(): number {
    let n = this.injector.size();
    for (const d of this.deques) n += d.size();
    for (const b of this.inboxes) n += b.size();
    return n;
  }

  /** Workers finish what is queued, then their `next()` returns false. */
  shutdown(): void {
    this.idle.shutdown();
  }

  /** Work any woken worker could take: not the inboxes (only their owner can, and INBOX S2 wakes it by name). */
  private hasWork(): boolean {
    return this.injector.hasItems() || this.deques.some((d) => d.size() > 0);
  }
}
