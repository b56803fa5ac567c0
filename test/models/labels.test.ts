/**
 * Step labels tie PROTOCOL.md, the code and the Spin models together: each step label of the
 * modelled protocols (INJ-, DQ-, PARK-, BELL-, TASK-, GATE-, JOIN-, ARENA-, RETIRE-, LANE-, INBOX-; not the invariants I and rules R) marks exactly one line
 * of src/, and every label a model uses is a step of PROTOCOL.md.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url).pathname;
const protocol = readFileSync(`${root}src/shm/PROTOCOL.md`, "utf8");
const LABEL = /\b(?:INJ|DQ|PARK|BELL|TASK|GATE|JOIN|ARENA|RETIRE|LANE|INBOX)-[A-Z]\d+\b/g;
const isRule = (l: string) => /-[IR]\d+$/.test(l);
const documented = [...new Set(protocol.match(LABEL))].sort();
const codeLines = (readdirSync(`${root}src`, { recursive: true }) as string[])
  .filter((f) => f.endsWith(".ts"))
  .flatMap((f) => readFileSync(`${root}src/${f}`, "utf8").split("\n").map((text, i) => ({ at: `src/${f}:${i + 1}`, text })));

test("every step label of the modelled protocols marks exactly one line of code", () => {
  const steps = documented.filter((l) => !isRule(l));
  expect(steps.length).toBeGreaterThan(25);
  const wrong = steps.flatMap((label) => {
    const re = new RegExp(`\\b${label}\\b`);
    const at = codeLines.filter((l) => re.test(l.text)).map((l) => l.at);
    return at.length === 1 ? [] : [`${label}: ${at.length} lines ${at.join(" ")}`];
  });
  expect(wrong).toEqual([]);
});

test("every label is written with its hyphen exactly once in PROTOCOL.md: where it is defined", () => {
  const twice = documented.filter((label) => protocol.match(new RegExp(`\\b${label}\\b`, "g"))!.length !== 1);
  expect(twice).toEqual([]);
});

test("every label a Spin model uses is a step in PROTOCOL.md", () => {
  const models = readdirSync(`${root}models`).filter((f) => f.endsWith(".pml") || f.endsWith(".inc"));
  expect(models.length).toBeGreaterThanOrEqual(3);
  for (const m of models) {
    const used = [...new Set(readFileSync(`${root}models/${m}`, "utf8").match(LABEL))];
    if (m.endsWith(".pml")) expect(used.length).toBeGreaterThan(0); // a model; .inc parts may hold none
    expect(used.filter((l) => !documented.includes(l))).toEqual([]);
  }
});
