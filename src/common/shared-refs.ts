/**
 * SharedArrayBuffers and views nested in a value (arrays, plain objects, Map keys and values, Set
 * members): taken out before the value is copied, and put back after, each at its path. The
 * refs travel beside the value, never inside it, so no user key or value can be mistaken for one.
 *
 * A ref is `[path, bufferId, kind, byteOffset, byteLength]`; kind 0 is the buffer itself, else
 * 1 + the index of the view's class in VIEW_KINDS. A path step is a key (object), an index
 * (array), `2 * entry + (0 key | 1 value)` (Map) or an entry index (Set).
 */
export type SharedRef = [Array<string | number>, number, number, number, number];

export const VIEW_KINDS = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView, Buffer,
] as const;

const MAX_DEPTH = 64;

export function isSharedValue(v: unknown): v is SharedArrayBuffer | ArrayBufferView {
  if (v instanceof SharedArrayBuffer) return true;
  return ArrayBuffer.isView(v) && v.buffer instanceof SharedArrayBuffer;
}

export function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Whether `v` holds a shared buffer or view anywhere extractShared would look, without allocating:
 * most arguments hold none, and extractShared's walk allocates (a copy, key lists, paths) per task.
 */
export function holdsShared(v: unknown, depth = 0): boolean {
  if (v === null || typeof v !== "object" || depth > MAX_DEPTH) return false;
  if (isSharedValue(v)) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (holdsShared(v[i], depth + 1)) return true;
  } else if (v instanceof Map) {
    for (const [k, x] of v) if (holdsShared(k, depth + 1) || holdsShared(x, depth + 1)) return true;
  } else if (v instanceof Set) {
    for (const x of v) if (holdsShared(x, depth + 1)) return true;
  } else if (isPlainObject(v)) {
    for (const k in v) if (Object.hasOwn(v, k) && holdsShared((v as Record<string, unknown>)[k], depth + 1)) return true;
  }
  return false;
}

/**
 * A copy of `v` with every shared buffer or view replaced by a placeholder and recorded in `refs`; `v`
 * itself when it holds none. `idOf` registers the buffer and returns its id.
 */
export function extractShared(v: unknown, idOf: (b: SharedArrayBuffer) => number, refs: SharedRef[], path: Array<string | number> = [], depth = 0): unknown {
  if (v === null || typeof v !== "object" || depth > MAX_DEPTH) return v;
  if (isSharedValue(v)) {
    refs.push(describe(v, idOf, path.slice()));
    return {}; // a placeholder of its own: two refs in one Set or as Map keys must stay two entries
  }
  const before = refs.length;
  let copy: unknown = v;
  if (Array.isArray(v)) {
    const out = v.map((x, i) => extractShared(x, idOf, refs, [...path, i], depth + 1));
    if (refs.length > before) copy = out;
  } else if (v instanceof Map) {
    const out = new Map();
    let i = 0;
    for (const [k, x] of v) {
      out.set(extractShared(k, idOf, refs, [...path, 2 * i], depth + 1), extractShared(x, idOf, refs, [...path, 2 * i + 1], depth + 1));
      i++;
    }
    if (refs.length > before) copy = out;
  } else if (v instanceof Set) {
    const out = new Set();
    let i = 0;
    for (const x of v) out.add(extractShared(x, idOf, refs, [...path, i++], depth + 1));
    if (refs.length > before) copy = out;
  } else if (isPlainObject(v)) {
    const out: Record<string, unknown> = Object.create(Object.getPrototypeOf(v));
    for (const k of Object.keys(v)) out[k] = extractShared((v as Record<string, unknown>)[k], idOf, refs, [...path, k], depth + 1);
    if (refs.length > before) copy = out;
  }
  return copy;
}

/** Puts every ref back into `root` (decoded from extractShared's copy); returns the new root. */
export function restoreShared(root: unknown, refs: SharedRef[], bufferOf: (id: number) => SharedArrayBuffer): unknown {
  for (const [path, id, kind, off, len] of refs) {
    const value = rebuild(bufferOf(id), kind, off, len);
    if (path.length === 0) {
      root = value;
      continue;
    }
    let parent: any = root;
    for (let i = 0; i < path.length - 1; i++) parent = step(parent, path[i]!);
    put(parent, path[path.length - 1]!, value);
  }
  return root;
}

function describe(v: SharedArrayBuffer | ArrayBufferView, idOf: (b: SharedArrayBuffer) => number, path: Array<string | number>): SharedRef {
  if (v instanceof SharedArrayBuffer) return [path, idOf(v), 0, 0, v.byteLength];
  const kind = VIEW_KINDS.findLastIndex((K) => v instanceof K);
  return [path, idOf(v.buffer as SharedArrayBuffer), kind + 1, v.byteOffset, v.byteLength];
}

function rebuild(buf: SharedArrayBuffer, kind: number, off: number, len: number): SharedArrayBuffer | ArrayBufferView {
  if (kind === 0) return buf;
  const K = VIEW_KINDS[kind - 1]!;
  if (K === DataView) return new DataView(buf, off, len);
  if (K === Buffer) return Buffer.from(buf, off, len);
  const T = K as unknown as { new (b: SharedArrayBuffer, o: number, n: number): ArrayBufferView; BYTES_PER_ELEMENT: number };
  return new T(buf, off, len / T.BYTES_PER_ELEMENT);
}

function step(parent: any, key: string | number): any {
  if (parent instanceof Map) return [...parent][(key as number) >> 1]![(key as number) & 1];
  if (parent instanceof Set) return [...parent][key as number];
  return parent[key];
}

function put(parent: any, key: string | number, value: unknown): void {
  if (parent instanceof Map) {
    const entries = [...parent];
    entries[(key as number) >> 1]![(key as number) & 1] = value;
    parent.clear();
    for (const [k, v] of entries) parent.set(k, v);
  } else if (parent instanceof Set) {
    const items = [...parent];
    items[key as number] = value;
    parent.clear();
    for (const x of items) parent.add(x);
  } else {
    parent[key] = value;
  }
}

/** True when JSON.stringify + JSON.parse gives back an equal value: plain objects, arrays, finite numbers, strings, booleans, null. */
export function isJsonSafe(v: unknown, depth: number): boolean {
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
        // A hole reads as undefined, which is not JSON-safe either (JSON writes null for both).
        for (let i = 0; i < v.length; i++) if (!isJsonSafe(v[i], depth + 1)) return false;
        return true;
      }
      if (!isPlainObject(v) || Object.getPrototypeOf(v) === null) return false;
      for (const k in v) {
        if (k === "__proto__" || !isJsonSafe((v as Record<string, unknown>)[k], depth + 1)) return false;
      }
      return Object.getOwnPropertySymbols(v).length === 0 && !("toJSON" in v);
    }
    default:
      return false;
  }
}
