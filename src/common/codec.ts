/**
 * Values <-> (type word, a, b): how task arguments and results travel in 4-word records. Small
 * values ride in the record itself; the rest goes to the payload arena, with the cheapest encoding
 * that keeps the value intact (PLATFORM.md: serialization decides the throughput budget):
 *
 * | value | type | a, b |
 * |---|---|---|
 * | undefined, null, booleans, "" | own tag | - |
 * | int32 | INT | value |
 * | other number | F64 | the float64's two words |
 * | [int32, int32] | I32PAIR | the two ints |
 * | string | STR | arena block, UTF-8 byte length |
 * | plain JSON-safe objects/arrays | JSON | arena block, byte length |
 * | typed arrays, ArrayBuffer, DataView (copied) | BYTES (+kind) | arena block, byte length |
 * | SharedArrayBuffer and views on one (shared) | SHARED | registry id |
 * | anything else structured-clone can copy (Map, Date, Error, BigInt, nested typed arrays...) | SER | arena block, byte length |
 * | objects/arrays with shared buffers inside | JSON_REFS / SER_REFS | as JSON / SER, each buffer replaced by its registry id |
 *
 * The type word is tag | kind << 6 (10 bits). Used by both sides; one instance per thread per pool.
 */
import { deserialize, serialize } from "bun:jsc";
import { DataCloneError } from "../errors.ts";
import type { PayloadArena } from "../shm/arena.ts";
import { SharedObjects } from "./shared-objects.ts";

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
/** JSON / SER whose value had SharedArrayBuffers inside: they travel as registry ids (SHARED_MARK). */
export const T_JSON_REFS = 13;
export const T_SER_REFS = 14;
const SHARED_MARK = "__btm_shared__";
const KIND_SHIFT = 6;
const TAG_MASK = 0x3f;

const BYTE_KINDS = [
  ArrayBuffer, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView, Buffer,
] as const;

/** Thrown by `encode` in non-blocking mode when the arena has no block of `bytes` right now. */
export class ArenaFull {
  constructor(readonly bytes: number) {}
}

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ValueCodec {
  /** [type, a, b] of the last encode. */
  readonly out = new Int32Array(3);

  /**
   * @param alloc "try": throw ArenaFull when no block is free (the main thread then waits
   *   asynchronously and retries); "block": wait for a block (worker threads).
   */
  constructor(
    readonly arena: PayloadArena,
    readonly shared: SharedObjects,
    private readonly alloc: "try" | "block",
  ) {}

  private role = "";
  private handler = "";

  /**
   * Encodes `value` into `out`. `role` and `handler` name it in errors ("argument of handler
   * \"add\""); the message is built only when there is an error.
   */
  encode(value: unknown, role: string, handler = ""): void {
    this.role = role;
    this.handler = handler;
    switch (typeof value) {
      case "number":
        if ((value | 0) === value && !Object.is(value, -0)) return this.set(T_INT, value, 0);
        f64[0] = value;
        return this.set(T_F64, f64Words[0]!, f64Words[1]!);
      case "string":
        return value.length === 0 ? this.set(T_EMPTY_STR, 0, 0) : this.putString(T_STR, value);
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
        if (SharedObjects.isShared(value)) return this.set(T_SHARED, this.shared.idOf(value), 0);
        if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return this.putBytes(value);
        return this.putComposite(value);
      }
      default:
        if (typeof value === "bigint") return this.putSerialized(value);
        throw new DataCloneError(`${this.what()} (a ${typeof value})`, `${typeof value}s cannot be copied between threads`);
    }
  }

  /** Decodes a value and frees its arena block. */
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
    }
    try {
      return this.peek(type, a, b);
    } finally {
      this.arena.free(a);
    }
  }

  /** Decodes a value without freeing it: for an argument several threads read (parallelFor). */
  peek(type: number, a: number, b: number): unknown {
    const tag = type & TAG_MASK;
    if (!usesArena(tag)) return this.take(type, a, b);
    const off = this.arena.byteOffset(a);
    const bytes = this.arena.u8.subarray(off, off + b);
    switch (tag) {
      case T_STR: return decoder.decode(bytes);
      case T_JSON: return JSON.parse(decoder.decode(bytes));
      case T_SER: return deserialize(bytes.slice());
      case T_BYTES: return rebuildBytes(type >>> KIND_SHIFT, bytes);
      case T_JSON_REFS: return this.restoreShared(JSON.parse(decoder.decode(bytes)), 0);
      case T_SER_REFS: return this.restoreShared(deserialize(bytes.slice()), 0);
    }
    throw new Error(`codec: unknown value type ${type}`);
  }

  /** Frees whatever arena block an encoded value holds, without decoding it. */
  release(type: number, a: number): void {
    if (usesArena(type & TAG_MASK)) this.arena.free(a);
  }

  private set(type: number, a: number, b: number): void {
    this.out[0] = type;
    this.out[1] = a;
    this.out[2] = b;
  }

  private block(bytes: number): number {
    if (this.alloc === "block") return this.arena.alloc(bytes);
    const h = this.arena.tryAlloc(bytes);
    if (h < 0) throw new ArenaFull(bytes);
    return h;
  }

  private putString(tag: number, s: string): void {
    let cap = s.length * 3;
    if (cap > this.arena.maxPayload) cap = Buffer.byteLength(s);
    this.checkSize(cap);
    const h = this.block(cap);
    const off = this.arena.byteOffset(h);
    const { written } = encoder.encodeInto(s, this.arena.u8.subarray(off, off + cap));
    this.set(tag, h, written);
  }

  /** Objects and arrays: JSON when that is lossless, else structured clone; shared buffers inside go by id. */
  private putComposite(value: object): void {
    if (isJsonSafe(value, 0)) return this.putString(T_JSON, JSON.stringify(value));
    if (!containsShared(value, 0)) return this.putSerialized(value, T_SER);
    const marked = this.markShared(value, 0);
    if (isJsonSafe(marked, 0)) return this.putString(T_JSON_REFS, JSON.stringify(marked));
    return this.putSerialized(marked, T_SER_REFS);
  }

  private what(): string {
    return this.handler ? `${this.role} of handler "${this.handler}"` : this.role;
  }

  /** A copy of plain objects and arrays with every shared buffer replaced by { [SHARED_MARK]: id }. */
  private markShared(v: unknown, depth: number): unknown {
    if (SharedObjects.isShared(v)) return { [SHARED_MARK]: this.shared.idOf(v) };
    if (depth > 32 || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map((x) => this.markShared(x, depth + 1));
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const k in v) out[k] = this.markShared((v as Record<string, unknown>)[k], depth + 1);
    return out;
  }

  private restoreShared(v: unknown, depth: number): unknown {
    if (depth > 32 || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = this.restoreShared(v[i], depth + 1);
      return v;
    }
    if (!isPlainObject(v)) return v;
    const o = v as Record<string, unknown>;
    if (typeof o[SHARED_MARK] === "number") return this.shared.get(o[SHARED_MARK] as number);
    for (const k in o) o[k] = this.restoreShared(o[k], depth + 1);
    return o;
  }

  private putSerialized(value: unknown, tag = T_SER): void {
    let bytes: SharedArrayBuffer;
    try {
      bytes = serialize(value);
    } catch (e) {
      throw new DataCloneError(this.what(), e);
    }
    this.checkSize(bytes.byteLength);
    const h = this.block(bytes.byteLength);
    this.arena.u8.set(new Uint8Array(bytes), this.arena.byteOffset(h));
    this.set(tag, h, bytes.byteLength);
  }

  private putBytes(value: ArrayBufferView | ArrayBuffer): void {
    const kind = BYTE_KINDS.findLastIndex((K) => value instanceof K);
    if (kind < 0) return this.putSerialized(value); // e.g. Float16Array
    const src = value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    this.checkSize(src.byteLength);
    const h = this.block(Math.max(1, src.byteLength));
    this.arena.u8.set(src, this.arena.byteOffset(h));
    this.set(T_BYTES | (kind << KIND_SHIFT), h, src.byteLength);
  }

  private checkSize(bytes: number): void {
    if (bytes > this.arena.maxPayload) {
      // Let the arena produce the standard error, with what it was.
      try {
        this.arena.tryAlloc(bytes);
      } catch (e) {
        (e as Error).message = `${this.what()}: ${(e as Error).message}`;
        throw e;
      }
    }
  }
}

function usesArena(tag: number): boolean {
  return tag === T_STR || tag === T_JSON || tag === T_SER || tag === T_BYTES || tag === T_JSON_REFS || tag === T_SER_REFS;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function containsShared(v: unknown, depth: number): boolean {
  if (SharedObjects.isShared(v)) return true;
  if (depth > 32 || v === null || typeof v !== "object") return false;
  if (Array.isArray(v)) return v.some((x) => containsShared(x, depth + 1));
  if (!isPlainObject(v)) return false;
  for (const k in v) if (containsShared((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

function rebuildBytes(kind: number, bytes: Uint8Array): unknown {
  const copy = bytes.slice().buffer; // a fresh, unshared, aligned ArrayBuffer
  const K = BYTE_KINDS[kind];
  if (K === ArrayBuffer) return copy;
  if (K === Buffer) return Buffer.from(copy);
  if (K === DataView) return new DataView(copy);
  return new (K as unknown as new (b: ArrayBuffer) => ArrayBufferView)(copy);
}

/** True when JSON.stringify + JSON.parse gives back an equal value: plain objects, arrays, finite numbers, strings, booleans, null. */
function isJsonSafe(v: unknown, depth: number): boolean {
  if (depth > 32) return false;
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object": {
      if (v === null) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (!(i in v) || !isJsonSafe(v[i], depth + 1)) return false;
        }
        return true;
      }
      if (!isPlainObject(v)) return false;
      for (const k in v) {
        if (!isJsonSafe((v as Record<string, unknown>)[k], depth + 1)) return false;
      }
      return Object.getOwnPropertySymbols(v).length === 0 && !("toJSON" in v);
    }
    default:
      return false;
  }
}

/** A thrown value as plain data that survives serialize: keeps name, message, stack, code and cause. */
export function errorToPlain(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) {
    let thrown: unknown = err;
    try {
      serialize(err);
    } catch {
      thrown = String(err);
    }
    return { thrown };
  }
  const plain: Record<string, unknown> = { name: err.name, message: err.message, stack: err.stack };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) plain.code = code;
  if ("cause" in err && depth < 8) plain.cause = err.cause instanceof Error ? { __error: errorToPlain(err.cause, depth + 1) } : errorToPlain(err.cause, depth + 1).thrown;
  return plain;
}

/** Rebuilds an Error (or the thrown value) from errorToPlain's output. */
export function plainToCause(v: unknown): unknown {
  if (v && typeof v === "object" && "__error" in v) {
    const p = (v as { __error: Record<string, unknown> }).__error;
    const e = new Error(String(p.message ?? ""), "cause" in p ? { cause: plainToCause(p.cause) } : undefined);
    e.name = String(p.name ?? "Error");
    if (p.stack) e.stack = String(p.stack);
    if (p.code !== undefined) (e as { code?: unknown }).code = p.code;
    return e;
  }
  return v;
}
