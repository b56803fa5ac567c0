/**
 * What a handler threw <-> plain, JSON-safe data ("wire"), so the error crosses threads keeping its
 * built-in class, name, own fields, AggregateError.errors and cause chain. Pure functions; the value
 * codec carries the wire (it is JSON-safe, so it takes the JSON path while nested no deeper than that path allows).
 *
 * Wire format: every position that holds a value holds a node, an object whose keys are all ours.
 * User data only ever sits in value positions (a field's name is the first element of a
 * `[key, node]` pair), so no user field or thrown object can be taken for a tag:
 *
 * | node | holds |
 * |---|---|
 * | `{ k: "error", cls, name, message, stack?, fields: [key, node][], errors?: node[], cause?: node }` | an Error. `cls` is its nearest built-in class (CLASSES, AggregateError, DOMException); `cause` is there iff the error has an own `cause`; `errors` only for AggregateError |
 * | `{ k: "json", v }` | a value JSON gives back exactly (plain objects, arrays, strings, finite numbers, booleans, null), a copy; also the description string that replaces a part that cannot be sent |
 * | `{ k: "ser", b64 }` | anything else structured clone copies (BigInt, Date, Map, typed arrays, NaN...): bun:jsc `serialize` bytes, base64 |
 * | `{ k: "undefined" }` | undefined (JSON has none; e.g. an explicit `cause: undefined`) |
 */
import { deserialize, serialize } from "bun:jsc";
import { DataCloneError, PayloadTooLargeError, TaskError } from "../errors.ts";
import { isJsonSafe, isPlainObject } from "./shared-refs.ts";

export type WireNode =
  | { k: "error"; cls: string; name: string; message: string; stack?: string; fields: [string, WireNode][]; errors?: WireNode[]; cause?: WireNode }
  | { k: "json"; v: unknown }
  | { k: "ser"; b64: string }
  | { k: "undefined" };

/** Size guards for `encodeThrown`; lengths are in UTF-16 code units. */
export interface ErrorLimits {
  /** Longest message, stack, string or encoded field kept (default 64 KiB); longer ones are cut with a note. */
  maxString?: number;
  /** Deepest nesting of errors through causes, `errors` and error-valued fields (default 16). */
  maxDepth?: number;
  /** Rough budget for the whole wire (default 256 KiB, so even as 3-byte UTF-8 it fits a 1 MiB arena block). */
  maxTotal?: number;
}

type ErrorClass = new (message?: string, options?: ErrorOptions) => Error;
const CLASSES: Record<string, ErrorClass> = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
const BUILTIN_PROTOS = new Map<object, string>(
  [...Object.entries(CLASSES), ["AggregateError", AggregateError], ["DOMException", DOMException]].map(([n, C]) => [(C as ErrorClass).prototype, n as string]),
);
/** Encoded in their own slots, never as fields. */
const OWN_SLOTS = new Set(["name", "message", "stack", "cause"]);
/** TaskError's own properties: an original field of the same name is not copied over them. */
const TASK_ERROR_KEYS = new Set(["code", "pool", "handler", "name", "message", "stack", "cause", "thrown", "original", "errors", "originalCode"]);
const isErrorSlot = (Error as { isError?: (v: unknown) => boolean }).isError;

/** Error.isError misses DOMException in Bun, instanceof misses other realms: either will do. */
function isError(v: unknown): v is Error {
  return isErrorSlot?.(v) === true || v instanceof Error;
}

interface Cx { problems: string[]; used: number; maxString: number; maxDepth: number; maxTotal: number; chain: object[] }

/**
 * Encodes a thrown value into plain data. Never throws: a part that cannot be sent (function,
 * symbol, unclonable object, throwing getter, cycle, over a limit) is replaced by a string saying
 * what it was, and listed in `problems`, e.g. `["name (a symbol)", "code (a function)"]`.
 */
export function encodeThrown(thrown: unknown, limits: ErrorLimits = {}): { wire: WireNode; problems: string[] } {
  const cx: Cx = { problems: [], used: 0, maxString: limits.maxString ?? 65536, maxDepth: limits.maxDepth ?? 16, maxTotal: limits.maxTotal ?? 262144, chain: [] };
  try {
    return { wire: encodeNode(cx, thrown, "", 0), problems: cx.problems };
  } catch (e) {
    // Last resort, e.g. a Proxy whose traps throw: the task must still fail with something.
    cx.problems.push(`the thrown value (encoding it threw ${preview(e)})`);
    return { wire: { k: "json", v: `[unencodable thrown value: ${preview(e)}]` }, problems: cx.problems };
  }
}

function encodeNode(cx: Cx, v: unknown, path: string, depth: number): WireNode {
  if (v === undefined) return { k: "undefined" };
  if (isError(v)) return encodeError(cx, v, path, depth);
  if (typeof v === "string") return { k: "json", v: truncate(cx, v, path) };
  let node: WireNode, size: number;
  try {
    const json = isJsonSafe(v, 0) ? JSON.stringify(v) : undefined;
    const b64 = json === undefined ? Buffer.from(serialize(v)).toString("base64") : "";
    node = json === undefined ? { k: "ser", b64 } : { k: "json", v: JSON.parse(json) }; // a copy: getters are not read again
    size = json?.length ?? b64.length;
  } catch (e) {
    const found = locate(v, "", new Set(), 0);
    const why = !found ? `${article(kindOf(v))} that cannot be cloned (${preview(e)})` : found[0] ? `${article(kindOf(v))} whose \`${found[0]}\` is ${found[1]}` : found[1];
    const as = typeof v === "symbol" ? v.toString() : typeof v === "function" ? `[function ${v.name || "anonymous"}]` : `[${why}]`;
    return unsent(cx, path, why, as);
  }
  if (size > cx.maxString || cx.used + size > cx.maxTotal) return unsent(cx, path, `${size} characters encoded, over the limit`, `[${kindOf(v)} too large to send]`);
  cx.used += size;
  return node;
}

function encodeError(cx: Cx, err: Error, path: string, depth: number): WireNode {
  if (cx.chain.includes(err)) return unsent(cx, path, "a cycle back to an enclosing error", `[circular: ${preview(err)}]`);
  if (depth >= cx.maxDepth) return unsent(cx, path, `nested deeper than ${cx.maxDepth} errors`, `[not sent: ${preview(err)}]`);
  if (cx.used >= cx.maxTotal) return unsent(cx, path, "over the size budget", `[not sent: ${preview(err)}]`);
  cx.chain.push(err);
  cx.used += 64; // the node's own keys
  try {
    const cls = classOf(err);
    const text = (key: string, v = read(cx, err, key, path)): string =>
      typeof v === "symbol" || typeof v === "function" ? String((encodeNode(cx, v, join(path, key), depth) as { v: string }).v)
      : truncate(cx, typeof v === "string" ? v : v == null ? "" : preview(v), join(path, key));
    const node: WireNode & { k: "error" } = { k: "error", cls, name: text("name"), message: text("message"), fields: [] };
    const stack = read(cx, err, "stack", path);
    if (stack !== undefined) node.stack = text("stack", stack);
    const keys = Object.keys(err).filter((k) => !OWN_SLOTS.has(k) && !(k === "errors" && cls === "AggregateError"));
    node.fields = bounded(cx, keys.map((k) => join(path, k)), (i) => {
      cx.used += keys[i]!.length + 8;
      return [keys[i]!, encodeNode(cx, read(cx, err, keys[i]!, path), join(path, keys[i]!), depth + 1)];
    });
    for (const s of Object.getOwnPropertySymbols(err)) {
      if (Object.prototype.propertyIsEnumerable.call(err, s)) cx.problems.push(`${join(path, `[${s.toString()}]`)} (a symbol key)`);
    }
    if (cls === "AggregateError") {
      const list = read(cx, err, "errors", path);
      const all = Array.isArray(list) ? list : [];
      node.errors = bounded(cx, all.map((_, i) => join(path, `errors[${i}]`)), (i) => encodeNode(cx, all[i], join(path, `errors[${i}]`), depth + 1));
    }
    if (Object.hasOwn(err, "cause")) node.cause = encodeNode(cx, read(cx, err, "cause", path), join(path, "cause"), depth + 1);
    return node;
  } finally {
    cx.chain.pop();
  }
}

/** Encodes entries while the budget lasts; the rest are dropped with one problem. */
function bounded<T>(cx: Cx, paths: string[], encode: (i: number) => T): T[] {
  const out: T[] = [];
  for (let i = 0; i < paths.length; i++) {
    if (cx.used >= cx.maxTotal) {
      const more = paths.length - i - 1;
      cx.problems.push(`${paths[i]}${more ? ` and ${more} more` : ""} (over the size budget, dropped)`);
      break;
    }
    out.push(encode(i));
  }
  return out;
}

/** Reads a property; a getter that throws yields a description instead (and a problem). */
function read(cx: Cx, o: object, key: string, path: string): unknown {
  try {
    return (o as Record<string, unknown>)[key];
  } catch (e) {
    const why = `a getter that threw ${preview(e)}`;
    return (unsent(cx, join(path, key), why, `[${why}]`) as { v: string }).v;
  }
}

function unsent(cx: Cx, path: string, why: string, as: string): WireNode {
  cx.problems.push(`${path || "the thrown value"} (${why})`);
  return { k: "json", v: as };
}

function truncate(cx: Cx, s: string, path: string): string {
  const max = Math.max(0, Math.min(cx.maxString, cx.maxTotal - cx.used));
  const cut = s.length <= max ? s.length : max > 0 && (s.charCodeAt(max - 1) & 0xfc00) === 0xd800 ? max - 1 : max; // keep surrogate pairs whole
  cx.used += cut;
  if (cut === s.length) return s;
  cx.problems.push(`${path || "the thrown value"} (${s.length} characters, truncated to ${cut})`);
  return `${s.slice(0, cut)}… [truncated: ${s.length} characters in all]`;
}

/** The nearest built-in class on the prototype chain. */
function classOf(err: Error): string {
  for (let p = Object.getPrototypeOf(err), n = 0; p && n < 64; p = Object.getPrototypeOf(p), n++) if (BUILTIN_PROTOS.has(p)) return BUILTIN_PROTOS.get(p)!;
  return "Error";
}

/**
 * Rebuilds what `encodeThrown` encoded: an Error of its built-in class (custom classes come back as
 * their nearest built-in, with their `name`), own fields, `errors`, `cause` and the sender's
 * `stack`; or the thrown value itself. A value that is not a wire node is returned as it is.
 */
export function decodeThrown(wire: unknown): unknown {
  if (wire === null || typeof wire !== "object") return wire;
  const n = wire as WireNode;
  switch (n.k) {
    case "json": return n.v;
    case "undefined": return undefined;
    case "ser": return deserialize(Buffer.from(n.b64, "base64"));
    case "error": break;
    default: return wire;
  }
  const opts = n.cause ? { cause: decodeThrown(n.cause) } : undefined;
  const err =
    n.cls === "AggregateError" ? new AggregateError((n.errors ?? []).map(decodeThrown), n.message, opts)
    : n.cls === "DOMException" ? new DOMException(n.message, { name: n.name, ...opts } as unknown as string)
    : new (CLASSES[n.cls] ?? Error)(n.message, opts);
  if (err.name !== n.name) define(err, "name", n.name, false);
  if (n.stack !== undefined) define(err, "stack", n.stack, false);
  else delete err.stack; // not the decoding thread's stack
  for (const [key, v] of n.fields) define(err, key, decodeThrown(v), true);
  return err;
}

/** An own data property, even for keys such as `__proto__`. */
function define(o: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(o, key, { value, enumerable, writable: true, configurable: true });
}

/**
 * The TaskError the main thread rejects with: the original's name, message, stack, cause and code
 * (as `originalCode`), `original` (the rebuilt error), `errors` for an AggregateError, and the
 * original's own fields where TaskError has no property of that name. A non-Error is `thrown`.
 */
export function taskErrorFrom(pool: string, handler: string, wire: unknown): TaskError {
  const original = decodeThrown(wire);
  if (!isError(original)) return new TaskError(pool, handler, { message: `handler threw ${preview(original)}`, thrown: original });
  const o = original as Error & Record<string, unknown>;
  const t = new TaskError(
    pool, handler,
    { name: o.name, message: o.message, stack: o.stack, code: o.code, ...(Object.hasOwn(o, "cause") ? { cause: o.cause } : {}) },
    { original: o, errors: o instanceof AggregateError ? o.errors : undefined },
  );
  for (const key of Object.keys(o)) if (!TASK_ERROR_KEYS.has(key)) define(t, key, o[key], true);
  return t;
}

/**
 * Says which part of `value` cannot be sent to another thread, for a DataCloneError message, e.g.
 * `result of handler "h": field \`fn\` is a function`. `cloneError` (what serialize threw) is
 * quoted when no part can be pointed at.
 */
/**
 * A result or error the worker could not send (DONE_UNSENDABLE): the `[code, message]` it described
 * it with, as the error of that class (DataCloneError or PayloadTooLargeError).
 */
export function refusalFrom(pool: string, handler: string, wire: unknown): Error {
  const [code, message, size = 0, limit = 0] = typeof wire === "string"
    ? (JSON.parse(wire) as [string, string, number?, number?])
    : ["ERR_DATA_CLONE", wire === undefined ? `the result of handler "${handler}" could not be sent back, and the pool's arena had no room left to say why` : String(wire)];
  const e = code === "ERR_PAYLOAD_TOO_LARGE" ? new PayloadTooLargeError(size, limit) : new DataCloneError(`result of handler "${handler}"`);
  e.message = `pool "${pool}": ${message}`;
  // The handler's result could not be sent: the server's fault, never the caller's (src/serve.ts answers 500).
  Object.defineProperty(e, "fromResult", { value: true });
  return e;
}

/** True for an error refusalFrom made: a result (not an argument) could not be sent. */
export function isResultRefusal(e: unknown): boolean {
  return (e as { fromResult?: boolean } | null)?.fromResult === true;
}

export function describeUnsendable(value: unknown, what: string, cloneError?: unknown): string {
  const found = locate(value, "", new Set(), 0);
  if (!found) return `${what}: ${cloneError === undefined ? "it cannot be cloned" : preview(cloneError)}`;
  return found[0] ? `${what}: field \`${found[0]}\` is ${found[1]}` : `${what} is ${found[1]}`;
}

/** The first part of `v` structured clone refuses: [path, what it is]. */
function locate(v: unknown, at: string, seen: Set<object>, depth: number): [string, string] | undefined {
  if (typeof v === "function") return [at, "a function"];
  if (typeof v === "symbol") return [at, "a symbol"];
  if (v === null || typeof v !== "object" || seen.has(v) || depth > 32) return undefined;
  seen.add(v);
  const container = Array.isArray(v) || isPlainObject(v) || v instanceof Map || v instanceof Set;
  if (!container && canSerialize(v)) return undefined; // else look inside, then blame the object itself
  const parts: [string, () => unknown][] =
    v instanceof Map ? [...v].map(([k, x]) => [join(at, `get(${typeof k === "string" ? JSON.stringify(k) : preview(k)})`), () => x])
    : v instanceof Set ? [...v].map((x) => [join(at, "<member>"), () => x])
    : Object.keys(v).map((k) => [Array.isArray(v) ? `${at}[${k}]` : join(at, k), () => (v as Record<string, unknown>)[k]]);
  for (const [p, get] of parts) {
    let x: unknown;
    try {
      x = get();
    } catch (e) {
      return [p, `a getter that threw ${preview(e)}`];
    }
    const found = locate(x, p, seen, depth + 1);
    if (found) return found;
  }
  return container ? undefined : [at, article(kindOf(v))];
}

function canSerialize(v: unknown): boolean {
  try {
    return serialize(v) !== undefined;
  } catch {
    return false;
  }
}

function join(path: string, key: string): string {
  return !path ? key : key.startsWith("[") ? path + key : `${path}.${key}`;
}

function kindOf(v: unknown): string {
  if (v === null || (typeof v !== "object" && typeof v !== "function")) return typeof v;
  try {
    const name = Object.getPrototypeOf(v)?.constructor?.name;
    return name && name !== "Object" && name !== "Array" ? name : Array.isArray(v) ? "array" : "object";
  } catch {
    return "object";
  }
}

function article(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? "an" : "a"} ${noun}`;
}

/** A short, never-throwing description of any value. */
function preview(v: unknown): string {
  try {
    if (typeof v === "string") return v;
    if (isError(v)) return `${String(v.name)}: ${String(v.message)}`;
    if (v !== null && typeof v === "object") return Array.isArray(v) || isPlainObject(v) ? JSON.stringify(v).slice(0, 200) : `[${kindOf(v)}]`;
    return String(v);
  } catch {
    return `[${kindOf(v)}]`; // e.g. a BigInt inside, a toJSON or toString that throws
  }
}
