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
  constructor(size: number, limit: number, what = "payload") {
    super(
      "ERR_PAYLOAD_TOO_LARGE",
      `${what} of ${size} bytes is larger than the payload arena's largest block (${limit} bytes); ` +
        `give the arena a larger size class or pass a SharedArrayBuffer, which is shared, not copied`,
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
