/**
 * The pool directory: what every managed thread is given at start so it can call any pool of its
 * manager (src/submit/thread-pools.ts): per compute and async pool, the shared memory a submitter
 * needs; the `[mapping]`; the native pools' names. Handler names are not known when the directory
 * is made (pools start together): each pool publishes them once, in a small shared buffer, when
 * its first thread has loaded the module (`publishHandlerNames`), and callers read them there.
 */
import type { SharedRef } from "../shm/layout.ts";
import type { PoolQueueRefs } from "../shm/work-finder.ts";

/** One pool as a submitting thread reaches it. */
export interface TargetSetup {
  name: string;
  kind: "compute" | "async";
  /** Seats of the pool (parallelFor's default grain). */
  threads: number;
  maxPayload: number;
  queues: PoolQueueRefs;
  control: SharedArrayBuffer;
  lanes: SharedArrayBuffer;
  /** Completion ring per lane (index 0, the main thread's, is the pool's main ring). */
  rings: SharedRef[];
  /** The arena's first segment: payloads to and from pool threads live there. */
  segment: SharedRef;
  timings: { buffer: SharedArrayBuffer; slots: number; seats: number; mainOrigin: number };
  /** The handler names, once published (publishHandlerNames). */
  names: SharedArrayBuffer;
}

export interface PoolDirectory {
  pools: TargetSetup[];
  /** alias -> pool, and `default` (src/config/types.ts). */
  mapping: Record<string, string>;
  natives: string[];
}

/** What one thread is: its token names it in lane words (src/shm/submitter-lanes.ts) and metrics. */
export interface SubmitterIdentity {
  token: number;
  /** The thread's name (`cpu-1`, `bg-0`). */
  name: string;
}

const NAMES_BYTES = 1 << 16;

export function handlerNamesBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(NAMES_BYTES);
}

/** Main: the pool's first thread said which handlers it has. Written once; later calls change nothing. */
export function publishHandlerNames(buf: SharedArrayBuffer, names: readonly string[]): void {
  const w = new Int32Array(buf, 0, 1);
  if (Atomics.load(w, 0) !== 0) return;
  const bytes = new TextEncoder().encode(JSON.stringify(names));
  if (bytes.length + 4 > NAMES_BYTES) throw new RangeError(`handler names: ${bytes.length} bytes of names, at most ${NAMES_BYTES - 4}`);
  new Uint8Array(buf, 4, bytes.length).set(bytes);
  Atomics.store(w, 0, bytes.length); // published after the bytes
  Atomics.notify(w, 0);
}

/** The handler names, or undefined while the pool's first thread has not loaded its module. */
export function readHandlerNames(buf: SharedArrayBuffer): string[] | undefined {
  const n = Atomics.load(new Int32Array(buf, 0, 1), 0);
  if (n === 0) return undefined;
  return JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n).slice())) as string[];
}

/** Blocks (a worker, at module load) until the names are published, at most `ms`. */
export function awaitHandlerNames(buf: SharedArrayBuffer, ms: number): string[] | undefined {
  Atomics.wait(new Int32Array(buf, 0, 1), 0, 0, ms);
  return readHandlerNames(buf);
}
