/**
 * Loading a user's module inside a thread, with errors that show the fix: a syntax error says
 * where (Bun reports build errors as an AggregateError whose own message is only "N errors
 * building"), and a module exporting `then` is refused (its namespace would be a thenable:
 * `await import()` would call it and never settle).
 */

import { fileURLToPath } from "node:url";
import { exportNames } from "../common/module-exports.ts";

interface BuildMessageLike {
  message?: string;
  position?: { file?: string; line?: number; column?: number; lineText?: string } | null;
}

/** The module's namespace; throws an Error whose message says what is wrong and where. */
export async function importModule(url: string): Promise<Record<string, unknown>> {
  // import() adopts a thenable namespace (it calls its `then`), so a `then` export is found first,
  // by scanning the source as the `types` command does (`export * from` included).
  if (exportsThen(url)) {
    throw new Error(`${url} exports "then", which makes the module a thenable (importing it would call that export and never finish): rename it`);
  }
  try {
    return await import(url);
  } catch (e) {
    throw new Error(describeLoadError(e), { cause: e });
  }
}

function exportsThen(url: string): boolean {
  try {
    return exportNames(fileURLToPath(url)).includes("then");
  } catch {
    return false; // not a readable, parseable file (a compiled executable's embedded module, a syntax error): import decides and says why
  }
}

/** An import's error as one message: each build error with file:line:column and its source line. */
export function describeLoadError(e: unknown): string {
  const many = (e as { errors?: unknown[] })?.errors;
  const errors = Array.isArray(many) && many.length > 0 ? many : (e as BuildMessageLike)?.position ? [e] : undefined; // an AggregateError, or one BuildMessage
  if (!errors) return String((e as Error)?.stack ?? e);
  const lines = errors.map((x) => {
    const m = x as BuildMessageLike;
    const p = m.position;
    const at = p ? `${p.file ?? "?"}:${p.line ?? "?"}:${p.column ?? "?"}: ` : "";
    return `${at}${m.message ?? String(x)}${p?.lineText ? `\n    ${p.lineText.trim()}` : ""}`;
  });
  return errors.length === 1 ? lines[0]! : `${(e as Error).message}:\n  ${lines.join("\n  ")}`;
}
