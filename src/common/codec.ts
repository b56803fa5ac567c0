/**
 * Values <-> (type word, a, b): how task arguments and results travel in 4-word records. Small
 * values ride in the record itself; the rest goes to the payload store, with the cheapest encoding
 * that keeps the value intact (docs/bun-platform.md: serialization decides the throughput budget):
 *
 * | value | type | a, b |
 * |---|---|---|
 * | undefined, null, booleans, "" | own tag | - |
 * | int32 | INT | value |
 * | other number | F64 | the float64's two words |
 * | [int32, int32] | I32PAIR | the two ints |
 * | well-formed string | STR | block, UTF-8 byte length |
 * | string with lone surrogates | STR16 | block, UTF-16 byte length |
 * | string of 32 Ki units or more | STR_MAIL | mail id (the string itself, by reference) |
 * | an argument given with run's transfer list, or bytes over a block or finding no room (main thread) | MAILED (+kind) | parcel id (the value itself, its buffers moved) |
 * | plain JSON-safe objects/arrays | JSON | block, byte length |
 * | typed arrays, ArrayBuffer, DataView (copied) | BYTES (+kind) | block, byte length |
 * | SharedArrayBuffer (shared) | SHARED | registry id |
 * | anything else structured clone copies (Map, Set, Date, Error, BigInt, ...) | SER | block, byte length |
 * | values with shared buffers or views inside (also a bare view) | JSON_REFS / SER_REFS | block, byte length of [value, refs] |
 *
 * "block" is an arena block, or with the OUTSIDE flag a payload outside the arena: a parcel mailed
 * to the decoding thread, or (main thread to "any worker") a registered buffer. Nothing waits for
 * arena room: `encode` returns the bytes it needs when it has nowhere to put them (PROTOCOL.md,
 * "Progress"). The type word is tag | kind << 6 | OUTSIDE; one codec per thread per pool.
 */
import { deserialize, serialize } from "bun:jsc";
import { DataCloneError, PayloadTooLargeError } from "../errors.ts";
import { asBuffer, BUFFER_KIND, byteKindOf, bytesOf, fromUtf16, rebuildBytes, viewOver } from "./byte-copies.ts";
import { describeUnsendable } from "./error-codec.ts";
import type { PayloadStore } from "./payload-store.ts";
import { ownerOf } from "./pool-mail.ts";
import type { SharedObjects } from "./shared-objects.ts";
import { extractShared, holdsShared, isJsonSafe, isSharedValue, restoreShared, type SharedRef } from "./shared-refs.ts";

export const T_UNDEF = 0;
export const T_NULL = 1;
export const T_FALSE = 2;
export const T_TRUE = 3;
export const T_INT = 4;
export const T_F64 = 5;
export const T_I32PAIR = 6;
export const T_STR = 7;
export const T_EMPTY_STR = 8;
export const T_JSON = 9;
export const T_SER = 10;
export const T_BYTES = 11;
export const T_SHARED = 12;
export const T_JSON_REFS = 13;
export const T_SER_REFS = 14;
export const T_STR16 = 15;
/** A long string sent by mail: Bun's postMessage passes strings by reference, copying is what costs. */
export const T_STR_MAIL = 16;
const STRING_BY_MAIL_UNITS = 1 << 15;
/** An argument mailed whole to the one thread that runs its task, its buffers moved (no copy on that side). */
export const T_MAILED = 17;
const KIND_SHIFT = 6;
const TAG_MASK = 0x3f;
/** The payload is outside the arena: `a` is a parcel or registered-buffer id, not a block. */
export const T_OUTSIDE = 1 << 10;

/** encode() destination: any worker of the pool (a task's argument, a join half). */
export const TO_ANY = -2;
const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface CodecOptions {
  /** Largest payload in bytes; above it encode throws PayloadTooLargeError. */
  maxPayload: number;
  /** Main thread: may this argument take `bytes` of arena now? (the arguments' share of the arena). */
  admit?: (bytes: number) => boolean;
  /** No mail between this codec's thread and the other side (a pool thread's calls and their results): all lives in the arena; no shared buffers. */
  mailless?: boolean;
  /** Main thread: a pool thread that may take an argument mailed to it now (run's transfer option), or -1. */
  route?: () => number;
  /** Main thread: adds an arena segment while the store may grow; true when it did. */
  grow?: () => boolean;
}

export class ValueCodec {
  /** [type, a, b] of the last encode. */
  readonly out = new Int32Array(3);
  /** Arena bytes the last encode took (block capacities). */
  arenaBytes = 0;
  /** Registered buffers the last encode made for itself (to release when its task ends). */
  readonly transients: number[] = [];
  /** Shared buffers the last encode named (the main thread keeps them alive until the task ends). */
  readonly named: SharedArrayBuffer[] = [];
  /** The worker the last encode mailed its value to (its record goes to that worker's inbox), or -1. */
  seat = -1;
  /** A block the next encode writes into if it fits, instead of a new one (ARENA L2: a thread's task's argument); -1 once taken. */
  reuse = -1;
  private forAll = false;
  private role = "";
  private handler = "";
  private to = TO_ANY;
  private readonly onMain: boolean;

  constructor(
    readonly store: PayloadStore,
    readonly shared: SharedObjects,
    private readonly options: CodecOptions,
  ) {
    this.onMain = shared.owner === 0;
  }

  /**
   * Encodes `value` into `out` for thread `to` (TO_ANY, TO_MAIN or a worker index). Returns 0, or
   * the bytes it needs when there is no room for them now (only for TO_ANY: the main thread then
   * waits for room, a worker runs the half itself). `role` and `handler` name the value in errors.
   */
  encode(value: unknown, role: string, handler = "", to = TO_ANY): number {
    this.begin(role, handler, to);
    switch (typeof value) {
      case "number":
        if ((value | 0) === value && !Object.is(value, -0)) return this.set(T_INT, value, 0);
        f64[0] = value;
        return this.set(T_F64, f64Words[0]!, f64Words[1]!);
      case "string":
        return value.length === 0 ? this.set(T_EMPTY_STR, 0, 0) : this.putString(value);
      case "boolean":
        return this.set(value ? T_TRUE : T_FALSE, 0, 0);
      case "undefined":
        return this.set(T_UNDEF, 0, 0);
      case "object": {
        if (value === null) return this.set(T_NULL, 0, 0);
        if (Array.isArray(value)) {
          if (value.length === 2) {
            const x = value[0];
            const y = value[1];
            if (typeof x === "number" && typeof y === "number" && (x | 0) === x && (y | 0) === y && !Object.is(x, -0) && !Object.is(y, -0)) {
              return this.set(T_I32PAIR, x, y);
            }
          }
          return this.putComposite(value);
        }
        if (value instanceof SharedArrayBuffer) return this.set(T_SHARED, this.idOf(value), 0);
        if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
          return isSharedValue(value) ? this.putComposite(value) : this.putBytes(value);
        }
        return this.putComposite(value);
      }
      default:
        if (typeof value === "bigint") return this.putSerialized(value, T_SER);
        throw new DataCloneError(`${this.what()} (a ${typeof value})`, `${typeof value}s cannot be copied between threads`);
    }
  }

  /** A worker an argument may be mailed to now (main thread), or -1; never one every thread reads. */
  readonly routeForMail = (): number => (this.forAll ? -1 : this.options.route?.() ?? -1);

  /** Encodes a value every thread of the pool may read (parallelFor's argument): never mailed to one. */
  encodeForAll(value: unknown, role: string, handler: string): number {
    this.forAll = true;
    try {
      return this.encode(value, role, handler);
    } finally {
      this.forAll = false;
    }
  }

  /** Mails `value` whole to worker `seat` (T_MAILED), moving `transfer` (counted against max_payload_bytes with `bytes`); DataCloneError when postMessage cannot clone it, and nothing was moved. */
  mailTo(seat: number, value: unknown, transfer: ArrayBuffer[], handler: string, bytes = transfer.reduce((n, b) => n + b.byteLength, 0)): void {
    this.begin("argument", handler, seat);
    if (bytes > this.options.maxPayload) throw this.overMaxPayload(bytes);
    try {
      this.set(T_MAILED | (value instanceof Buffer ? BUFFER_KIND << KIND_SHIFT : 0), this.shared.sendParcel(seat, value, transfer), 0); // the clone makes a Buffer a Uint8Array
    } catch (e) {
      throw new DataCloneError(`${describeUnsendable(value, this.what(), e)}, which cannot be sent to another thread`);
    }
    this.seat = seat;
  }

  /** Decodes a value and frees what held it. */
  take(type: number, a: number, b: number): unknown {
    const tag = type & TAG_MASK;
    switch (tag) {
      case T_UNDEF: return undefined;
      case T_NULL: return null;
      case T_FALSE: return false;
      case T_TRUE: return true;
      case T_INT: return a;
      case T_F64:
        f64Words[0] = a;
        f64Words[1] = b;
        return f64[0];
      case T_I32PAIR: return [a, b];
      case T_EMPTY_STR: return "";
      case T_SHARED: return this.shared.get(a);
      case T_STR_MAIL: return ownerOf(a) === 0 ? this.shared.getString(a) : this.shared.takeParcel(a);
      case T_MAILED: { // with OUTSIDE: a bare ArrayBuffer handed over as the kind the type word names; else the value, a Buffer's kind restored
        const kind = (type >>> KIND_SHIFT) & 0xf, v = this.shared.takeParcel(a);
        return (type & T_OUTSIDE) !== 0 ? viewOver(kind, v as ArrayBuffer) : kind === BUFFER_KIND ? asBuffer(v) : v;
      }
    }
    if ((type & T_OUTSIDE) !== 0 && ownerOf(a) !== 0) return this.decode(type, new Uint8Array(this.shared.takeParcel(a) as ArrayBuffer, 0, b));
    try {
      return this.peek(type, a, b);
    } finally {
      this.release(type, a);
    }
  }

  /** Decodes a value without freeing it: for an argument several threads read (parallelFor). */
  peek(type: number, a: number, b: number): unknown {
    const tag = type & TAG_MASK;
    if (tag === T_STR_MAIL && ownerOf(a) === 0) return this.shared.getString(a);
    if (!usesBytes(tag)) return this.take(type, a, b);
    if ((type & T_OUTSIDE) === 0) return this.decode(type, this.store.bytes(a, b));
    if (ownerOf(a) !== 0) return this.decode(type, new Uint8Array(this.shared.takeParcel(a) as ArrayBuffer, 0, b));
    return this.decode(type, new Uint8Array(this.shared.get(a), 0, b));
  }

  /** Frees whatever holds an encoded value, without decoding it. A main-thread buffer is released by the main thread when its task ends. */
  release(type: number, a: number): void {
    const tag = type & TAG_MASK;
    if ((tag === T_STR_MAIL && ownerOf(a) !== 0) || tag === T_MAILED) this.shared.takeParcel(a);
    if (!usesBytes(tag)) return;
    if ((type & T_OUTSIDE) === 0) this.store.free(a);
    else if (ownerOf(a) !== 0) this.shared.takeParcel(a);
  }

  private decode(type: number, bytes: Uint8Array): unknown {
    switch (type & TAG_MASK) {
      case T_STR: return decoder.decode(bytes);
      case T_STR16: return fromUtf16(bytes);
      case T_JSON: return JSON.parse(decoder.decode(bytes));
      case T_SER: return deserialize(bytes.slice());
      case T_BYTES: return rebuildBytes((type >>> KIND_SHIFT) & 0xf, bytes);
      case T_JSON_REFS: return this.withRefs(JSON.parse(decoder.decode(bytes)));
      case T_SER_REFS: return this.withRefs(deserialize(bytes.slice()));
    }
    throw new Error(`codec: unknown value type ${type}`);
  }

  private withRefs(pair: unknown): unknown {
    const [value, refs] = pair as [unknown, SharedRef[]];
    return restoreShared(value, refs, (id) => this.shared.get(id));
  }

  /** A new encode: what it names and for whom; nothing held yet. */
  private begin(role: string, handler: string, to: number): void {
    this.role = role;
    this.handler = handler;
    this.to = to;
    this.seat = -1;
    this.arenaBytes = 0;
    if (this.transients.length) this.transients.length = 0; // guarded: setting length is a slow path even on an empty array
    if (this.named.length) this.named.length = 0;
  }

  private set(type: number, a: number, b: number): number {
    this.out[0] = type;
    this.out[1] = a;
    this.out[2] = b;
    return 0;
  }

  /** The error for a value of `bytes` that must fit one arena block and cannot. */
  tooLargeForArena(bytes: number, handler: string): PayloadTooLargeError {
    this.handler = handler;
    const limit = this.store.maxBlock;
    return new PayloadTooLargeError(bytes, limit, this.what(), `is larger than one arena block (${limit} bytes), the most that travels between a pool thread and another pool: send larger payloads from the main thread, or split them`);
  }

  private idOf(buf: SharedArrayBuffer): number {
    if (this.options.mailless) {
      throw new DataCloneError(`${this.what()} holds a SharedArrayBuffer, which a pool thread cannot send to another pool or receive from one yet: share it from the main thread, or send a copy (a Uint8Array)`);
    }
    if (this.onMain) this.named.push(buf);
    return this.shared.idOf(buf);
  }

  /**
   * Puts `length` bytes, written by `write` (which returns how many it wrote), where the reader
   * can find them: an arena block, else outside the arena. Returns 0, or `length` when there is
   * no room now and the destination is TO_ANY.
   */
  private place(tag: number, length: number, write: (dst: Uint8Array) => number): number {
    if (length > this.options.maxPayload) throw this.overMaxPayload(length);
    const store = this.store;
    if (length <= store.maxBlock && (this.options.admit === undefined || this.options.admit(length))) {
      const h = this.reuse >= 0 && length <= store.capacityOf(this.reuse) ? this.reuse : store.tryAlloc(Math.max(1, length));
      if (h >= 0) {
        if (h === this.reuse) this.reuse = -1; // taken for this value
        this.arenaBytes += store.capacityOf(h);
        return this.set(tag, h, write(store.bytes(h, length)));
      }
    }
    if (this.options.mailless) {
      if (this.to === TO_ANY && length <= store.maxBlock) return Math.max(1, length);
      if (length > store.maxBlock) throw this.tooLargeForArena(length, this.handler);
      throw new PayloadTooLargeError(length, store.maxBlock, this.what(), "found no free block in the pool's arena, and a result for a pool thread cannot travel outside it: raise the pool's arena_bytes (more blocks of each size), or keep fewer large results in flight");
    }
    if (this.to === TO_ANY) {
      if (!this.onMain || length <= store.maxBlock) return Math.max(1, length);
      const buf = new SharedArrayBuffer(length);
      const id = this.shared.registerTransient(buf);
      this.transients.push(id);
      return this.set(tag | T_OUTSIDE, id, write(new Uint8Array(buf)));
    }
    const bytes = new ArrayBuffer(length);
    const written = write(new Uint8Array(bytes));
    return this.set(tag | T_OUTSIDE, this.shared.sendParcel(this.to, bytes, [bytes]), written); // ARENA-W1: a parcel, never a wait
  }

  /** Over max_payload_bytes; sharing a SharedArrayBuffer is the way out only where one can be sent (the main thread). */
  private overMaxPayload(bytes: number): PayloadTooLargeError {
    const max = this.options.maxPayload;
    if (this.onMain) return new PayloadTooLargeError(bytes, max, this.what());
    return new PayloadTooLargeError(bytes, max, this.what(), `is larger than the pool's max_payload_bytes (${max}); raise max_payload_bytes in the pool's config, or split it`);
  }

  private putString(s: string): number {
    if (s.length >= STRING_BY_MAIL_UNITS && (this.onMain || this.to !== TO_ANY) && !this.options.mailless) {
      // Measured in UTF-8 bytes, as the arena path measures it (so the limit does not depend on the path or the thread).
      const max = this.options.maxPayload;
      if (s.length * 3 > max) {
        const bytes = Buffer.byteLength(s, "utf8");
        if (bytes > max) throw this.overMaxPayload(bytes);
      }
      if (this.to !== TO_ANY) return this.set(T_STR_MAIL, this.shared.sendParcel(this.to, s), 0);
      const id = this.shared.mailString(s);
      this.transients.push(id); // released when the task ends
      return this.set(T_STR_MAIL, id, 0);
    }
    if (!s.isWellFormed()) {
      return this.place(T_STR16, s.length * 2, (dst) => {
        const units = new Uint16Array(dst.buffer, dst.byteOffset, s.length);
        for (let i = 0; i < s.length; i++) units[i] = s.charCodeAt(i);
        return s.length * 2;
      });
    }
    return this.putUtf8(T_STR, s);
  }

  /** Short strings reserve 3 bytes per UTF-16 unit (no counting pass); long ones are measured. */
  private putUtf8(tag: number, s: string): number {
    const length = s.length <= 1024 ? s.length * 3 : Buffer.byteLength(s, "utf8");
    return this.place(tag, length, (dst) => encoder.encodeInto(s, dst).written);
  }

  /** Objects and arrays: JSON when that is lossless, else structured clone; shared buffers inside travel beside the value. */
  private putComposite(value: object): number {
    // JSON-safe means plain objects and arrays all the way down: no shared buffer inside, no second walk for one.
    if (isJsonSafe(value, 0)) return this.putUtf8(T_JSON, JSON.stringify(value));
    if (!holdsShared(value)) return this.putSerialized(value, T_SER);
    const refs: SharedRef[] = [];
    const copy = extractShared(value, (b) => this.idOf(b), refs);
    const pair = [copy, refs];
    if (isJsonSafe(copy, 0)) return this.putUtf8(T_JSON_REFS, JSON.stringify(pair));
    return this.putSerialized(pair, T_SER_REFS);
  }

  private what(): string {
    return this.handler ? `${this.role} of handler "${this.handler}"` : this.role;
  }

  private putSerialized(value: unknown, tag: number): number {
    let bytes: SharedArrayBuffer;
    try {
      bytes = serialize(value);
    } catch (e) {
      throw new DataCloneError(`${describeUnsendable(value, this.what(), e)}, which cannot be sent to another thread`);
    }
    const src = new Uint8Array(bytes);
    return this.place(tag, src.byteLength, (dst) => (dst.set(src), src.byteLength));
  }

  private putBytes(value: ArrayBufferView | ArrayBuffer): number {
    const kind = byteKindOf(value);
    if (kind < 0) return this.putSerialized(value, T_SER); // e.g. Float16Array
    const src = bytesOf(value);
    const tag = T_BYTES | (kind << KIND_SHIFT);
    const write = (dst: Uint8Array): number => (dst.set(src), src.byteLength);
    let needed = -1; // not tried: over a block
    if (src.byteLength <= this.store.maxBlock) {
      needed = this.place(tag, src.byteLength, write);
      // Small ones grow the store first (blocks are cheaper than mail); a segment holds few big blocks (bench/README.md).
      if (needed !== 0 && src.byteLength <= this.store.maxBlock >> 4 && this.options.grow?.()) needed = this.place(tag, src.byteLength, write);
      if (needed === 0 || this.to !== TO_ANY) return needed;
    }
    const seat = src.byteLength <= this.options.maxPayload ? this.routeForMail() : -1; // from main: its own copy moved to one thread
    if (seat < 0) return needed > 0 ? needed : this.place(tag, src.byteLength, write);
    const own = src.slice().buffer; // a bare ArrayBuffer, its kind in the type word: a clone would make a Buffer a Uint8Array
    this.mailTo(seat, own, [own], this.handler, src.byteLength);
    return this.set(T_MAILED | T_OUTSIDE | (kind << KIND_SHIFT), this.out[1]!, 0);
  }
}

function usesBytes(tag: number): boolean {
  return tag === T_STR || tag === T_STR16 || tag === T_JSON || tag === T_SER || tag === T_BYTES || tag === T_JSON_REFS || tag === T_SER_REFS;
}

/** A value of type word `type` lives in an arena block, its handle in `a`. */
export const inArena = (type: number): boolean => (type & T_OUTSIDE) === 0 && usesBytes(type & TAG_MASK);
