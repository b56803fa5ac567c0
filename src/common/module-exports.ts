/**
 * The export names of a module, read from its source by Bun's transpiler without running it,
 * with the names `export * from` brings in. Used by `types` (declarations), `check` (a module
 * that does not parse) and a pool thread before it imports a module (a `then` export would make
 * the namespace a thenable).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";

const STAR = /export\s*\*\s*from\s*["']([^"']+)["']/g;

/**
 * The export names of a module's source, without running it, with the names `export * from`
 * brings in (followed to other files; ESM leaves their default out).
 */
export function exportNames(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read module ${file}: ${(e as NodeJS.ErrnoException).code === "EISDIR" ? "it is a directory" : (e as Error).message}`);
  }
  const ext = extname(file).slice(1);
  const loader = (["ts", "tsx", "js", "jsx"].includes(ext) ? ext : "ts") as "ts" | "tsx" | "js" | "jsx";
  let scanned: string[];
  try {
    scanned = new Bun.Transpiler({ loader }).scan(source).exports;
  } catch (e) {
    const why = String((e as Error)?.message ?? e).split("\n")[0];
    const at = (e as { position?: { line?: number; column?: number } }).position;
    throw new Error(`cannot read the exports of ${file}${at?.line ? `:${at.line}:${at.column ?? 0}` : ""}: ${why}`);
  }
  const names = new Set(scanned);
  for (const [, spec] of source.matchAll(STAR)) {
    if (!spec!.startsWith(".")) continue; // a package's names: not followed
    const target = resolveFile(resolve(dirname(file), spec!));
    if (target) for (const n of exportNames(target, seen)) if (n !== "default") names.add(n);
  }
  return [...names].sort();
}

function resolveFile(base: string): string | undefined {
  const candidates = [base, ...[".ts", ".tsx", ".js", ".mjs"].map((e) => base.replace(/\.js$/, "") + e), `${base}/index.ts`, `${base}/index.js`];
  return candidates.find((c) => existsSync(c) && !statSync(c).isDirectory());
}
