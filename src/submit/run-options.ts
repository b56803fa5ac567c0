/**
 * What run() takes beside its argument, checked in one place: `signal`, and `transfer`.
 *
 * `transfer` is postMessage's transfer list: the caller gives the listed
 * ArrayBuffers up (they are detached when run() returns) and the argument reaches its thread
 * without a copy. From the main thread the argument is mailed whole, with the list moved, to one
 * pool thread, and the task's record goes to that thread's inbox, which no other thread takes from
 * (PROTOCOL.md, "Inboxes"). Where no thread can take it (a pool thread submitting, which has no
 * mail to its peers; no static thread alive; their inboxes full) the argument is copied as without
 * the option, and the buffers are detached all the same, so the caller sees one behaviour.
 *
 * Concurrency contract: thread-local (the submitting thread's codec).
 */
import type { ValueCodec } from "../common/codec.ts";
import { asBuffer, byteKindOf, bytesOf, rebuildBytes } from "../common/byte-copies.ts";
import { holdsShared } from "../common/shared-refs.ts";
import { DataCloneError, InvalidArgumentError, ThreadManagerError, describeValue } from "../errors.ts";
import type { Encode } from "./submitter.ts";

export interface RunOptions {
  /** Aborting rejects the promise with the signal's reason; a queued task never runs. */
  signal?: AbortSignal;
  /** ArrayBuffers the caller gives up, as postMessage's transfer list: detached when run() returns, moved without a copy. */
  transfer?: ArrayBuffer[];
}

/** What is wrong with run's options, or undefined. */
export function optionsError(handler: string, options: RunOptions | undefined): InvalidArgumentError | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object") {
    return new InvalidArgumentError("options", `of handler "${handler}" must be an object like { signal }, got ${describeValue(options)}`);
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    return new InvalidArgumentError("options.signal", `must be an AbortSignal, got ${describeValue(signal)}`);
  }
  return options.transfer === undefined ? undefined : transferListError(options.transfer, handler);
}

/** map and parallelFor take no transfer list: one argument goes to many tasks, or each item would need its own list. */
export function transferNotTaken(call: "map" | "parallelFor", handler: string): InvalidArgumentError {
  return new InvalidArgumentError("options.transfer", `of handler "${handler}": ${call} takes no transfer list; use run() with { transfer } per argument`);
}

/** A record the main thread could not put in a thread's inbox although it saw room (that thread died inside a take). */
export function stuckInbox(pool: string, seat: number): ThreadManagerError {
  return new ThreadManagerError("ERR_WORKER_CRASHED", `thread ${seat} of pool "${pool}" stopped taking tasks from its inbox (it died while taking one); run the task again`);
}

/** Why `list` cannot be a transfer list, or undefined when it can. */
function transferListError(list: unknown, handler: string): InvalidArgumentError | undefined {
  if (!Array.isArray(list)) return new InvalidArgumentError("options.transfer", `of handler "${handler}" must be an array of ArrayBuffers, got ${describeValue(list)}`);
  const seen = new Set<ArrayBuffer>();
  for (let i = 0; i < list.length; i++) {
    const b: unknown = list[i];
    if (!(b instanceof ArrayBuffer)) {
      const hint = b instanceof SharedArrayBuffer ? " (a SharedArrayBuffer is shared, never transferred: pass it without the option)"
        : ArrayBuffer.isView(b) ? " (list the view's .buffer)" : "";
      return new InvalidArgumentError(`options.transfer[${i}]`, `of handler "${handler}" must be an ArrayBuffer${hint}, got ${describeValue(b)}`);
    }
    if (b.detached) return new InvalidArgumentError(`options.transfer[${i}]`, `of handler "${handler}" is already detached (transferred before)`);
    if (seen.has(b)) return new InvalidArgumentError(`options.transfer[${i}]`, `of handler "${handler}" lists the same ArrayBuffer twice`);
    seen.add(b);
  }
  return undefined;
}

/** An Encode that can take its argument out of the caller's hands before it waits (run's transfer option). */
type HoldingEncode<A> = Encode<A> & { hold?(arg: A, handler: string): void };

/**
 * The Encode for an argument given with a transfer list (checked by transferListError): mailed to
 * a thread when one may take it; else copied like any argument, and the buffers detached once the
 * copy is made (a refused argument detaches nothing). An argument that must wait for arena room is
 * moved out of the caller's hands first (`hold`: structuredClone with the list moves the buffers,
 * no copy), so it is detached when run() returns, as postMessage's transfer list would have it.
 */
export function encodeTransferred(transfer: readonly ArrayBuffer[]): Encode<unknown> {
  const list = transfer.slice(); // the caller may change its array after run() returns
  let moved: { value: unknown } | undefined;
  const hold = (arg: unknown, handler: string): void => {
    if (moved !== undefined) return;
    try {
      const value = structuredClone(arg, { transfer: list });
      moved = { value: arg instanceof Buffer ? asBuffer(value) : value }; // the clone made a Buffer a Uint8Array
    } catch (e) {
      throw new DataCloneError(`argument of handler "${handler}" (with its transfer list)`, e);
    }
  };
  const encode: HoldingEncode<unknown> = (codec: ValueCodec, arg: unknown, handler: string): number => {
    if (moved !== undefined) return codec.encode(moved.value, "argument", handler);
    const seat = codec.routeForMail();
    if (seat >= 0) {
      codec.mailTo(seat, arg, list, handler);
      return 0;
    }
    const needed = codec.encode(arg, "argument", handler); // throws, for a value that cannot be sent: nothing detached
    if (needed === 0) for (const b of list) b.transfer(); // copied; given up all the same
    else hold(arg, handler); // it waits for room
    return needed;
  };
  encode.hold = hold;
  return encode;
}

/**
 * What a task that waits for arena room keeps of its argument. postMessage copies (or moves) at the
 * call, so the caller's later writes must not reach the thread: a transferred argument is moved now,
 * any other object cloned now (structuredClone: what the codec's copy would keep), except one that
 * holds shared buffers (those are shared by reference anyway). A value structuredClone refuses is
 * kept as it is: its encode says why it cannot be sent.
 */
export function keepForWait<A>(arg: A, encode: Encode<A>, handler: string): A {
  const hold = (encode as HoldingEncode<A>).hold;
  if (hold !== undefined) {
    hold(arg, handler);
    return arg;
  }
  if (typeof arg !== "object" || arg === null || holdsShared(arg)) return arg;
  // A bare byte array keeps its kind (structuredClone makes a Buffer a Uint8Array; the codec does not).
  const kind = ArrayBuffer.isView(arg) || arg instanceof ArrayBuffer ? byteKindOf(arg) : -1;
  if (kind >= 0) return rebuildBytes(kind, bytesOf(arg as unknown as ArrayBufferView)) as A;
  try {
    return structuredClone(arg);
  } catch {
    return arg;
  }
}
