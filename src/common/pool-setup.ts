/** What the main thread sends a pool worker once, at start, and what the worker answers. */
import type { MessagePort } from "node:worker_threads";
import type { SharedRef } from "../shm/layout.ts";
import type { PoolQueueRefs } from "../shm/work-finder.ts";
import type { PlacementFailure, ThreadPlacement } from "../platform/placement.ts";
import type { ServeSetup, ServingAt } from "../worker/pool-server.ts";
import type { PoolDirectory, SubmitterIdentity } from "../submit/pool-directory.ts";

export type PoolKind = "compute" | "async";

/** A pool thread's scaling role (README, "Adaptive scaling"). */
export type ThreadRole = "static" | "dynamic" | "standalone";

export interface PoolWorkerSetup {
  pool: string;
  kind: PoolKind;
  index: number;
  /** file: URL of the handler module. */
  module: string;
  queues: PoolQueueRefs;
  /** Completion ring per submitter lane (0: the main thread's); a completion goes to its slot's lane. */
  rings: SharedRef[];
  /** The pool's submitter lanes (src/shm/submitter-lanes.ts). */
  lanes: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** The payload store's arena segments so far (more arrive by mail). */
  segments: SharedRef[];
  /** Largest argument or result in bytes (max_payload_bytes). */
  maxPayload: number;
  /** Mail to and from the main thread (src/common/pool-mail.ts). */
  registryPort: MessagePort;
  /** Buffers registered before this thread started. */
  shared: Array<[number, SharedArrayBuffer]>;
  /** Long strings mailed before this thread started, still in use. */
  strings: Array<[number, string]>;
  spinMicros: number;
  /** Async pools: tasks in flight per thread. */
  concurrency: number;
  /** Compute pools: deepest join nesting that still splits (deeper joins run inline). */
  joinDepth: number;
  /** Applied by the thread to itself before it loads the module or takes work. */
  placement: ThreadPlacement;
  role: ThreadRole;
  /** Dynamic: idle ms before going behind the manager gate; standalone: idle ms before exiting. */
  idleMs: number;
  /** Task wait/run histograms (src/common/task-timings.ts) and the main thread's time origin. */
  timings: { buffer: SharedArrayBuffer; slots: number; mainOrigin: number };
  /** Async pools with `serve`: this thread runs a server (src/worker/pool-server.ts). */
  serve?: ServeSetup;
  /** The first local id this thread's shared-object registry hands out (a seat's threads never reuse one). */
  firstId: number;
  /** Every pool of the manager, for `ctx.pools` (src/submit/thread-pools.ts). */
  directory: PoolDirectory;
  identity: SubmitterIdentity;
}

/** Worker -> main, once the module is loaded (or failed to load). */
export type PoolWorkerHello =
  /** About to load a module (what was loading, if the thread exits before "ready"). */
  | { type: "loading"; module: string; serve?: boolean }
  | { type: "ready"; handlers: string[]; tid: number; serving?: ServingAt }
  /** A standalone thread idle for standalone_idle_ms: it left the pool cleanly and may be terminated. */
  | { type: "retired" }
  /** `serve`: the serve module failed (bad export, port taken), named here. */
  | { type: "failed"; error: string; placement?: PlacementFailure; serve?: string };

/** Main -> async worker: the caller aborted a running task. */
export interface AbortNotice {
  type: "abort";
  id: number;
}

/** Handler names are the module's function exports, sorted: every worker numbers them alike. */
export function handlerNames(mod: Record<string, unknown>): string[] {
  return Object.keys(mod).filter((k) => typeof mod[k] === "function").sort();
}
