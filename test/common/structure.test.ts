/**
 * The source tree's shape: no cycle of value imports among src/ files (type-only imports are
 * erased and may point anywhere), and no file grown past one concept's size.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

const root = new URL("../../src/", import.meta.url).pathname;
const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));

/** The src/ files `file` imports values from (static imports whose specifiers are not all types). */
function valueImports(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:([^"']*?)\s+from\s+)?["'](\.{1,2}\/[^"']+)["']/gm)) {
    const [, typeOnly, clause = "", spec] = m;
    if (typeOnly) continue;
    const names = /\{([^}]*)\}/.exec(clause)?.[1];
    const hasDefaultOrStar = /^\s*[\w$*]/.test(clause.replace(/\{[^}]*\}/, "").replace(/,/g, "")) && clause.trim() !== "";
    if (names !== undefined && !hasDefaultOrStar && names.split(",").every((n) => n.trim() === "" || /^type\s/.test(n.trim()))) continue;
    out.push(normalize(join(dirname(file), spec!)));
  }
  return out.filter((f) => files.includes(f));
}

test("no cycle of value imports among src/ files", () => {
  const graph = new Map(files.map((f) => [f, valueImports(f)]));
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (f: string) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") return void cycles.push([...path.slice(path.indexOf(f)), f].join(" -> "));
    state.set(f, "open");
    path.push(f);
    for (const g of graph.get(f) ?? []) visit(g);
    path.pop();
    state.set(f, "done");
  };
  for (const f of files) visit(f);
  expect(cycles).toEqual([]);
});

test("no src/ file over 400 lines", () => {
  const long = files.map((f) => [f, readFileSync(join(root, f), "utf8").split("\n").length] as const).filter(([, n]) => n > 400);
  expect(long).toEqual([]);
});
