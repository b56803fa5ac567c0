/**
 * One submitter's tasks of one pool that were submitted and have not completed, by slot: the
 * slots of the submitter's lane (src/shm/submitter-lanes.ts), numbered pool-wide. A slot's
 * state word in shared memory says whether the task may still run (QUEUED), runs (RUNNING, with its
 * runner), or was cancelled; its generation tells a late record or completion from a reused slot.
 * A slot is given back only when its completion arrives (or its thread died), so every task record
 * yields exactly one completion and a slot is never reused while a record names it.
 */
import type { TaskStates } from "../common/task-state.ts";
import { ID_GEN_SHIFT, TASK_GEN_MASK } from "../shm/layout.ts";

/** Who learns a task's outcome: its promise's resolvers, or one item of a batch (task-batch.ts). */
export interface Settle {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  /** Told the record id (slot | gen << 20) once the task has a slot (a batch item, to cancel it). */
  queued?(id: number): void;
  /** Nobody wants the outcome any more (its batch ended): a task still waiting for arena room is dropped, never run. */
  dropped?(): boolean;
  /** The task ran past task_timeout_ms: true when it settles itself from its completion (a map chunk). */
  timedOut?(error: Error): boolean;
  /** Its thread died (crash repair, before the rejection): a map chunk learns which of its items had started last. */
  died?(at: number): void;
}

export interface TaskEntry {
  readonly gen: number;
  readonly handler: string;
  readonly settle: Settle;
  /** The caller's promise was settled already (aborted, closed); the completion only frees the slot. */
  settled: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** Arena bytes the argument took (the arguments' share is accounted until the task ends). */
  argBytes: number;
  /** A thread's task: its argument's block, which the runner holds until the completion is out (ARENA L2). */
  heldArg?: number;
  /** Buffers registered for this task's argument alone; released when it ends. */
  transients?: number[];
  /** Shared buffers the argument names: kept alive until the task ends, so no record names a released id. */
  keep?: SharedArrayBuffer[];
}

export class TaskTable {
  /** By slot - first. */
  private readonly entries: Array<TaskEntry | undefined>;
  private readonly gens: Uint16Array;
  private readonly free: number[];
  private count = 0;
  private drained: (() => void) | undefined;

  constructor(
    private readonly states: TaskStates,
    /** The lane's first slot and how many it has. */
    readonly first: number,
    readonly size: number,
    /** Told the new count whenever it changes (a thread's lane: its shared PENDING word). */
    private readonly onCount?: (n: number) => void,
  ) {
    this.entries = new Array(size).fill(undefined);
    this.gens = new Uint16Array(size);
    for (let i = 0; i < size; i++) this.gens[i] = states.genOf(first + i); // a lane's earlier holder's records never match (LANE-C2)
    this.free = Array.from({ length: size }, (_, i) => first + size - 1 - i); // pop() hands out the first slot first
  }

  get pending(): number {
    return this.count;
  }

  /** The entry in `slot` (any generation), if the slot is in use. */
  entry(slot: number): TaskEntry | undefined {
    return this.entries[slot - this.first];
  }

  /** Every slot in use with its entry. */
  *inUse(): IterableIterator<[number, TaskEntry]> {
    for (let i = 0; i < this.size; i++) {
      const e = this.entries[i];
      if (e !== undefined) yield [this.first + i, e];
    }
  }

  /** Takes a free slot for a new task; returns its record id (slot | gen << 20) or -1 when none is free. */
  open(handler: string, settle: Settle, signal?: AbortSignal): number {
    const slot = this.free.pop();
    if (slot === undefined) return -1;
    const i = slot - this.first;
    const gen = (this.gens[i]! + 1) & TASK_GEN_MASK;
    this.gens[i] = gen;
    this.states.queue(slot, gen);
    this.entries[i] = { gen, handler, settle, settled: false, signal, argBytes: 0 };
    this.count++;
    this.onCount?.(this.count);
    return slot | (gen << ID_GEN_SHIFT);
  }

  /** The live entry a record id names, or undefined for a stale id. */
  lookup(slot: number, gen: number): TaskEntry | undefined {
    const e = this.entries[slot - this.first];
    return e !== undefined && e.gen === gen ? e : undefined;
  }

  /** The thread running the task in `slot`, or -1 when it is not running. */
  runnerOf(slot: number): number {
    return this.states.runner(slot);
  }

  /** Gives the slot back. */
  close(slot: number): void {
    const e = this.entries[slot - this.first];
    if (e === undefined) return;
    if (e.onAbort) e.signal?.removeEventListener("abort", e.onAbort);
    this.states.free(slot, e.gen);
    this.entries[slot - this.first] = undefined;
    this.free.push(slot);
    this.count--;
    this.onCount?.(this.count);
    if (this.count === 0) {
      const d = this.drained;
      this.drained = undefined;
      d?.();
    }
  }

  /** Resolves when nothing is pending. */
  whenDrained(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.drained;
      this.drained = () => {
        prev?.();
        resolve();
      };
    });
  }
}
