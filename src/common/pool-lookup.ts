/**
 * How a pool name resolves, the same on every thread (ThreadManager on main, ThreadPools in pool
 * threads): the pool of that name and kind, else what `[mapping]` maps the name to, else
 * `mapping.default` (with one warning per name), else PoolNotFoundError naming the pools of that
 * kind (and the kind of a pool of that name, when it exists with another kind).
 */
import { InvalidArgumentError, PoolNotFoundError } from "../errors.ts";

export interface PoolIndex<P> {
  mapping: Record<string, string>;
  /** The pool `name` of `kind`, if there is one. */
  find(name: string, kind: string): P | undefined;
  /** The kind of the pool `name`, if there is one. */
  kindOf(name: string): string | undefined;
  /** Names of the pools of `kind`. */
  namesOf(kind: string): string[];
}

export function lookupPool<P>(index: PoolIndex<P>, name: string, kind: string, strict: boolean, warned: Set<string>): P | undefined {
  if (typeof name !== "string") throw new InvalidArgumentError(`${kind}(name)`, `must be a pool name (a string), got ${name === null ? "null" : typeof name}`);
  const { mapping } = index;
  const ofKind = (n: string | undefined) => (n === undefined ? undefined : index.find(n, kind));
  const direct = ofKind(name) ?? ofKind(mapping[name]);
  if (direct) return direct;
  const fallback = ofKind(mapping.default);
  if (fallback && name !== "default") {
    if (!warned.has(`${kind}:${name}`)) {
      warned.add(`${kind}:${name}`);
      console.warn(`bun-thread-manager: no ${kind} pool "${name}"; using mapping.default ("${mapping.default}")`);
    }
    return fallback;
  }
  if (!strict) return undefined;
  throw new PoolNotFoundError(name, kind, index.namesOf(kind), index.kindOf(mapping[name] ?? name));
}
