/**
 * Main thread: the tasks of one pool that were submitted and have not completed, by slot. A slot's
 * state word in shared memory says whether the task may still run (QUEUED), runs (RUNNING, with its
 * runner), or was cancelled; its generation tells a late record or completion from a reused slot.
 * A slot is given back only when its completion arrives (or its thread died), so every task record
 * yields exactly one completion and a slot is never reused while a record names it.
 */
import type { PoolControl } from "../common/pool-control.ts";
import { ID_GEN_SHIFT, TASK_GEN_MASK } from "../shm/layout.ts";

export interface TaskEntry {
  readonly gen: number;
  readonly handler: string;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  /** The caller's promise was settled already (aborted, closed); the completion only frees the slot. */
  settled: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** Arena bytes the argument took (the arguments' share is accounted until the task ends). */
  argBytes: number;
  /** Buffers registered for this task's argument alone; released when it ends. */
  transients?: number[];
  /** Shared buffers the argument names: kept alive until the task ends, so no record names a released id. */
  keep?: SharedArrayBuffer[];
}

export class TaskTable {
  readonly entries: Array<TaskEntry | undefined>;
  private readonly gens: Uint16Array;
  private readonly free: number[];
  private count = 0;
  private drained: (() => void) | undefined;

  constructor(private readonly control: PoolControl) {
    const n = control.slots;
    this.entries = new Array(n).fill(undefined);
    this.gens = new Uint16Array(n);
    this.free = Array.from({ length: n }, (_, i) => n - 1 - i); // pop() hands out 0 first
  }

  get pending(): number {
    return this.count;
  }

  /** Takes a free slot for a new task; returns its record id (slot | gen << 20) or -1 when none is free. */
  open(handler: string, settle: { resolve(v: unknown): void; reject(e: unknown): void }, signal?: AbortSignal): number {
    const slot = this.free.pop();
    if (slot === undefined) return -1;
    const gen = (this.gens[slot]! + 1) & TASK_GEN_MASK;
    this.gens[slot] = gen;
    this.control.states.queue(slot, gen);
    this.entries[slot] = { gen, handler, resolve: settle.resolve, reject: settle.reject, settled: false, signal, argBytes: 0 };
    this.count++;
    return slot | (gen << ID_GEN_SHIFT);
  }

  /** The live entry a record id names, or undefined for a stale id. */
  lookup(slot: number, gen: number): TaskEntry | undefined {
    const e = this.entries[slot];
    return e !== undefined && e.gen === gen ? e : undefined;
  }

  /** The thread running the task in `slot`, or -1 when it is not running. */
  runnerOf(slot: number): number {
    return this.control.states.runner(slot);
  }

  /** Gives the slot back. */
  close(slot: number): void {
    const e = this.entries[slot];
    if (e === undefined) return;
    if (e.onAbort) e.signal?.removeEventListener("abort", e.onAbort);
    this.control.states.free(slot, e.gen);
    this.entries[slot] = undefined;
    this.free.push(slot);
    if (--this.count === 0) {
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
