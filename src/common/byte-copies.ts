/**
 * Byte payloads (ArrayBuffer, typed arrays, Buffer, DataView) as the codec copies them: which kind
 * a value is (its index here travels in the type word) and a fresh, unshared copy of the same kind
 * over exactly the value's bytes. A view's buffer may be far larger than the view: only the view's
 * bytes travel, whichever path they take (arena block, or mailed to one thread). And UTF-16 bytes
 * back to a string, for strings that UTF-8 cannot carry.
 */
import { VIEW_KINDS } from "./shared-refs.ts";

/** Copied byte payloads: an ArrayBuffer or one of the view classes shared refs know (the kind is the index). */
const BYTE_KINDS = [ArrayBuffer, ...VIEW_KINDS] as const;

/** The kind of a byte value, or -1 for one the codec does not copy as bytes (e.g. Float16Array). */
export function byteKindOf(value: ArrayBufferView | ArrayBuffer): number {
  return BYTE_KINDS.findLastIndex((K) => value instanceof K);
}

/** The bytes a byte value stands for (a view's window, not its whole buffer). */
export function bytesOf(value: ArrayBufferView | ArrayBuffer): Uint8Array {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** Copies up to this size get their buffer made first (see rebuildBytes). */
const SMALL_COPY = 64 << 10;

/** The kind of a plain Uint8Array (the common case, which needs no buffer of its own up front). */
const UINT8_KIND = BYTE_KINDS.indexOf(Uint8Array);

/** `bytes` copied into a fresh ArrayBuffer of their own, as a value of kind `kind`. */
export function rebuildBytes(kind: number, bytes: Uint8Array): ArrayBufferView | ArrayBuffer {
  // A Uint8Array is its own slice: JSC makes the buffer object only if someone reads `.buffer`
  // (0.1 us for 256 bytes against 0.7 us through a buffer made first; 9.3 against 12 us at 64 KiB).
  if (kind === UINT8_KIND) return bytes.slice();
  // A fresh, unshared, aligned ArrayBuffer. Small ones are made first: reading `.buffer` of a small
  // slice makes JSC materialize one after the fact, a slow path (~10% of a tiny-task map's main
  // thread); a large slice has its buffer already, and a new one would be zeroed for nothing.
  if (bytes.byteLength > SMALL_COPY) return viewOver(kind, bytes.slice().buffer);
  const buffer = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  return viewOver(kind, buffer);
}

/** The kind of a Buffer: structured clone (postMessage's mail, a transfer) makes one a plain Uint8Array. */
export const BUFFER_KIND = BYTE_KINDS.indexOf(Buffer);

/** A Buffer over the same bytes as `value`, a Buffer that structured clone made a Uint8Array (no copy). */
export function asBuffer(value: unknown): unknown {
  if (!(value instanceof Uint8Array) || value instanceof Buffer) return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** A value of kind `kind` over the whole of `buffer` (no copy): how a moved copy is handed over. */
export function viewOver(kind: number, buffer: ArrayBuffer): ArrayBufferView | ArrayBuffer {
  const K = BYTE_KINDS[kind];
  if (K === ArrayBuffer) return buffer;
  if (K === Buffer) return Buffer.from(buffer);
  if (K === DataView) return new DataView(buffer);
  return new (K as unknown as new (b: ArrayBuffer) => ArrayBufferView)(buffer);
}

/** UTF-16 code units back to a string, lone surrogates kept (TextDecoder would replace them). */
export function fromUtf16(bytes: Uint8Array): string {
  const units = new Uint16Array(bytes.slice().buffer);
  let s = "";
  for (let i = 0; i < units.length; i += 8192) s += String.fromCharCode.apply(null, units.subarray(i, i + 8192) as unknown as number[]);
  return s;
}
