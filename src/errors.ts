import { didYouMean } from "./common/did-you-mean.ts";

/**
 * The one error hierarchy of bun-thread-manager. Every error has a stable literal `code`
 * (match on it, not on the message) and passes `cause` on.
 *
 * @example
 * try { arena.tryAlloc(1 << 30); }
 * catch (e) { if (e instanceof ThreadManagerError && e.code === "ERR_PAYLOAD_TOO_LARGE") ... }
 */
export class ThreadManagerError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A parameter of a constructor or call is out of range or of the wrong kind; `.parameter` names it. */
export class InvalidArgumentError extends ThreadManagerError {
  declare readonly code: "ERR_INVALID_ARGUMENT";
  readonly parameter: string;
  constructor(parameter: string, message: string) {
    super("ERR_INVALID_ARGUMENT", `${parameter} ${message}`);
    this.parameter = parameter;
  }
}

/** A payload does not fit in the largest block the payload arena has. */
export class PayloadTooLargeError extends ThreadManagerError {
  declare readonly code: "ERR_PAYLOAD_TOO_LARGE";
  readonly size: number;
  readonly limit: number;
  /** `why`: what the limit is and what to do, when it is not max_payload_bytes. */
  constructor(size: number, limit: number, what = "payload", why?: string) {
    super(
      "ERR_PAYLOAD_TOO_LARGE",
      why !== undefined
        ? `${what} of ${size} bytes ${why}`
        : `${what} of ${size} bytes is larger than the pool's max_payload_bytes (${limit}); ` +
          `raise max_payload_bytes in the pool's config, or pass a SharedArrayBuffer (shared, never copied)`,
    );
    this.size = size;
    this.limit = limit;
  }
}

/** Waiting for room (arena block, queue slot) ran past its deadline. */
export class TimeoutError extends ThreadManagerError {
  declare readonly code: "ERR_TIMEOUT";
  constructor(message: string) {
    super("ERR_TIMEOUT", message);
  }
}

/** A buffer handed to `attach` does not hold the structure it is said to hold. */
export class SharedLayoutError extends ThreadManagerError {
  declare readonly code: "ERR_SHARED_LAYOUT";
  constructor(message: string) {
    super("ERR_SHARED_LAYOUT", message);
  }
}

/** No pool of that name (after the name mapping and its default). */
export class PoolNotFoundError extends ThreadManagerError {
  declare readonly code: "ERR_POOL_NOT_FOUND";
  readonly pool: string;
  /** `otherKind`: the kind of a pool of that name that exists, when it is not `kind`. */
  constructor(pool: string, kind: string, known: string[], otherKind?: string) {
    super(
      "ERR_POOL_NOT_FOUND",
      otherKind
        ? `pool "${pool}" is ${article(otherKind)} ${otherKind} pool, not ${article(kind)} ${kind} pool: use tm.${otherKind}("${pool}")`
        : `no ${kind} pool named "${pool}"${didYouMean(pool, known)} (${kind} pools: ${known.join(", ") || "none"})`,
    );
    this.pool = pool;
  }
}

/** The pool holds `max_queue` tasks already: shed load (a server can answer 503). */
export class PoolBusyError extends ThreadManagerError {
  declare readonly code: "ERR_POOL_BUSY";
  readonly pool: string;
  constructor(pool: string, limit: number, what = "tasks queued or running (max_queue)") {
    super("ERR_POOL_BUSY", `pool "${pool}" has ${limit} ${what}; try again later`);
    this.pool = pool;
  }
}

/** The pool is closed, or closed without draining while this task waited. */
export class PoolClosedError extends ThreadManagerError {
  declare readonly code: "ERR_POOL_CLOSED";
  readonly pool: string;
  constructor(pool: string, detail = "is closed") {
    super("ERR_POOL_CLOSED", `pool "${pool}" ${detail}`);
    this.pool = pool;
  }
}

/** The thread running the task died (process.exit in a handler, a fatal error, terminate()). */
export class WorkerCrashedError extends ThreadManagerError {
  declare readonly code: "ERR_WORKER_CRASHED";
  readonly pool: string;
  readonly threadIndex: number;
  /** `when`: where the task stood, "while running this task" unless it had not started (it waited in that thread's inbox). */
  constructor(pool: string, threadIndex: number, detail: string, when = "while running this task") {
    super("ERR_WORKER_CRASHED", `thread ${threadIndex} of pool "${pool}" died ${when} (${detail})`);
    this.pool = pool;
    this.threadIndex = threadIndex;
  }
}

/** The pool's module has no export of that name, or the export is not a function. */
export class HandlerNotFoundError extends ThreadManagerError {
  declare readonly code: "ERR_HANDLER_NOT_FOUND";
  readonly pool: string;
  readonly handler: string;
  constructor(pool: string, handler: string, known: string[]) {
    super(
      "ERR_HANDLER_NOT_FOUND",
      `pool "${pool}" has no handler "${handler}"${didYouMean(handler, known)} (its module exports: ${known.join(", ") || "no functions"})`,
    );
    this.pool = pool;
    this.handler = handler;
  }
}

/** A value that cannot cross threads (a function, a symbol, a class instance with private state...). */
export class DataCloneError extends ThreadManagerError {
  declare readonly code: "ERR_DATA_CLONE";
  /** With a cause: "`what` cannot be sent to another thread: cause". Without: `what` is the whole message. */
  constructor(what: string, cause?: unknown) {
    super("ERR_DATA_CLONE", cause === undefined ? what : `${what} cannot be sent to another thread: ${describeCause(cause)}`, cause === undefined ? undefined : { cause });
  }
}

/**
 * A handler threw. `name`, `message`, `stack` and `cause` are the original error's (the stack is the
 * worker's); `pool` and `handler` say where it ran. `instanceof TaskError` holds whatever the name.
 */
export class TaskError extends ThreadManagerError {
  declare readonly code: "ERR_TASK_FAILED";
  readonly pool: string;
  readonly handler: string;
  /** The thrown value when it was not an Error (declared: no own `thrown: undefined` in logs). */
  declare readonly thrown?: unknown;
  /** The thrown Error rebuilt on this thread: its built-in class, own fields, cause chain. */
  declare readonly original?: Error;
  /** The original's `errors` when it was an AggregateError. */
  declare readonly errors?: unknown[];
  constructor(
    pool: string,
    handler: string,
    original: { name?: string; message?: string; stack?: string; cause?: unknown; code?: unknown; thrown?: unknown },
    rebuilt?: { original?: Error; errors?: unknown[] },
  ) {
    super("ERR_TASK_FAILED", original.message ?? `handler threw ${String(original.thrown)}`, "cause" in original ? { cause: original.cause } : undefined);
    this.pool = pool;
    this.handler = handler;
    if (original.name) this.name = original.name;
    if (original.stack) this.stack = original.stack;
    if ("thrown" in original && original.thrown !== undefined) this.thrown = original.thrown; // no `thrown: undefined` in logs
    if (original.code !== undefined) (this as { originalCode?: unknown }).originalCode = original.code;
    if (rebuilt?.original) this.original = rebuilt.original;
    if (rebuilt?.errors) this.errors = rebuilt.errors;
  }
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** The configuration is wrong; `.path` is the key at fault, e.g. `compute.cpu.max_threads`. */
export class ConfigError extends ThreadManagerError {
  declare readonly code: "ERR_CONFIG";
  readonly path: string;
  /** Every error of the config (this one first), when thrown by validation. */
  declare readonly errors?: ConfigError[];
  constructor(path: string, message: string) {
    super("ERR_CONFIG", `${path}: ${message}`);
    this.path = path;
  }

  /**
   * One error standing for all of a config's: its message lists each key path and message, as the
   * CLI's `check` does, and `errors` holds them (not enumerable, so nothing prints them twice).
   */
  static of(errors: ConfigError[]): ConfigError {
    const first = errors[0]!;
    const all = new ConfigError(first.path, first.message.slice(first.path.length + 2));
    if (errors.length > 1) {
      all.message = `${errors.length} errors in the config:\n${errors.map((e) => `  - ${e.message}`).join("\n")}`;
    }
    Object.defineProperty(all, "errors", { value: errors, enumerable: false });
    return all;
  }

  /** Bun.inspect / console.log: the list, without a stack per entry. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `ConfigError [ERR_CONFIG]: ${this.message}`;
  }
}

/** An async pool's `serve` module could not run: no usable default export, or its port could not be bound. */
export class ServeError extends ThreadManagerError {
  declare readonly code: "ERR_SERVE";
  readonly pool: string;
  /** file: URL of the serve module. */
  readonly module: string;
  constructor(pool: string, module: string, message: string) {
    super("ERR_SERVE", message);
    this.pool = pool;
    this.module = module;
  }
}

/** The kernel refused a thread's placement (affinity, policy, priority, nice). */
export class PlacementError extends ThreadManagerError {
  declare readonly code: "ERR_PLACEMENT";
  readonly pool: string;
  /** The refused call, e.g. "sched_setscheduler(FIFO, priority 10)". */
  readonly operation: string;
  readonly errno: string;
  constructor(pool: string, thread: string, operation: string, errno: string) {
    const needsNice = errno === "EPERM" || errno === "EACCES";
    super(
      "ERR_PLACEMENT",
      `pool "${pool}" (thread ${thread}): ${operation} was refused with ${errno}` +
        (needsNice
          ? `. Realtime policies (FIFO, RR), lowering nice, and leaving IDLE need CAP_SYS_NICE: grant it to the ` +
            `bun binary (a symlink when bun came from npm: setcap needs the real file) with ` +
            `sudo setcap cap_sys_nice+ep "$(readlink -f "$(which bun)")"; under systemd, set ` +
            `AmbientCapabilities=CAP_SYS_NICE (and LimitRTPRIO=99 for FIFO/RR) in the unit; in a shell, ` +
            `ulimit -r 99 raises the realtime priority limit (as root); or run as root`
          : errno === "EINVAL"
            ? ". The cores or values are not valid for this process (check taskset/cgroup cpusets)"
            : ""),
    );
    this.pool = pool;
    this.operation = operation;
    this.errno = errno;
  }
}

/** How an error message names a bad value a caller passed. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return `a string (${JSON.stringify(v.slice(0, 40))})`;
  if (typeof v === "object") return Array.isArray(v) ? "an array" : `an object (${Object.prototype.toString.call(v)})`;
  return typeof v === "undefined" ? "undefined" : `a ${typeof v}`;
}
