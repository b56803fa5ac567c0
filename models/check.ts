/**
 * bun run model-check: every Promela model in models/ explored exhaustively by Spin, three runs
 * each:
 * - safety (pan, -DSAFETY): assertions and invalid end states, 0 errors expected;
 * - liveness (spin -DLIVENESS, pan -a -f): under weak fairness every run reaches the end of init
 *   (liveness.inc), 0 errors expected;
 * - mutant (-DMUTANT, safety): a one-line change that brings back a known bug; at least one error
 *   expected, so a model that cannot fail is caught.
 * Installs nothing: says what is missing. Prints states and time per run; exit 1 on any surprise.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const missing = ["spin", "gcc"].filter((tool) => Bun.which(tool) === null);
if (missing.length > 0) {
  console.error(`model-check: ${missing.join(" and ")} not found. Install: sudo apt-get install -y spin gcc (Debian/Ubuntu), or see https://spinroot.com`);
  process.exit(2);
}

const dir = import.meta.dir;
const sources = readdirSync(dir).filter((f) => f.endsWith(".pml") || f.endsWith(".inc"));
const models = sources.filter((f) => f.endsWith(".pml")).sort();

type Kind = "safety" | "liveness" | "mutant";
const KINDS: Kind[] = ["safety", "liveness", "mutant"];
const RUN: Record<Kind, { spin: string[]; gcc: string[]; pan: string[] }> = {
  safety: { spin: [], gcc: ["-DSAFETY"], pan: [] },
  // NFAIR: weak fairness over up to 7 processes (retire.pml starts threads as it goes).
  liveness: { spin: ["-DLIVENESS"], gcc: ["-DNFAIR=4"], pan: ["-a", "-f"] },
  mutant: { spin: ["-DMUTANT"], gcc: ["-DSAFETY"], pan: [] },
};

interface Outcome {
  errors: number;
  states: number;
  ms: number;
  detail: string;
}

async function run(cmd: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

async function verify(model: string, kind: Kind): Promise<Outcome> {
  const work = mkdtempSync(join(tmpdir(), "btm-spin-"));
  try {
    for (const f of sources) copyFileSync(join(dir, f), join(work, f));
    const how = RUN[kind];
    const t0 = performance.now();
    const gen = await run(["spin", ...how.spin, "-a", model], work);
    if (gen.code !== 0) throw new Error(`spin -a ${model} (${kind}): ${gen.out}${gen.err}`);
    const cc = await run(["gcc", "-O1", ...how.gcc, "-o", "pan", "pan.c"], work);
    if (cc.code !== 0) throw new Error(`gcc pan.c (${model}, ${kind}): ${cc.err}`);
    const pan = await run(["./pan", ...how.pan, "-m100000"], work);
    if (/max search depth too small/.test(pan.out)) throw new Error(`pan (${model}, ${kind}): the search was cut at depth 100000; raise -m`);
    const ms = performance.now() - t0;
    const errors = Number(/errors: (\d+)/.exec(pan.out)?.[1] ?? NaN);
    const states = Number(/(\d+) states, stored/.exec(pan.out)?.[1] ?? NaN);
    const detail = /^pan:1: (.*)$/m.exec(pan.out)?.[1] ?? /^pan: (error.*)$/m.exec(pan.out)?.[1] ?? "";
    if (Number.isNaN(errors)) throw new Error(`pan (${model}, ${kind}) printed no result:\n${pan.out}${pan.err}`);
    return { errors, states, ms, detail };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// Every run is its own spin + gcc + pan: as many at once as there are cores, the biggest models
// (by source size, a fair guess at state count) first so that no long run starts last.
const bySize = [...models].sort((a, b) => Bun.file(join(dir, b)).size - Bun.file(join(dir, a)).size);
const jobs = bySize.flatMap((model) => KINDS.map((kind) => ({ model, kind })));
const outcomes = new Map<string, Outcome>();
let next = 0;
await Promise.all(Array.from({ length: Math.max(1, navigator.hardwareConcurrency) }, async () => {
  while (next < jobs.length) {
    const { model, kind } = jobs[next++]!;
    outcomes.set(`${model} ${kind}`, await verify(model, kind));
  }
}));

let surprises = 0;
const cell = (o: Outcome, expectErrors: boolean): string => {
  const asExpected = expectErrors ? o.errors > 0 : o.errors === 0;
  if (!asExpected) surprises++;
  const what = expectErrors ? (asExpected ? `caught: ${o.detail}` : "**not caught**") : asExpected ? "0 errors" : `**${o.errors} errors: ${o.detail}**`;
  return `${what} (${o.states} states, ${(o.ms / 1000).toFixed(1)} s)`;
};
const rows = models.map((m) => {
  const [safety, liveness, mutant] = KINDS.map((k) => outcomes.get(`${m} ${k}`)!);
  return `| ${m} | ${cell(safety!, false)} | ${cell(liveness!, false)} | ${cell(mutant!, true)} |`;
});
console.log("| model | safety | liveness | mutant |\n|---|---|---|---|\n" + rows.join("\n"));
console.log(surprises === 0
  ? `model-check: ${models.length} models verified (safety and liveness), ${models.length} mutants caught`
  : `model-check: ${surprises} surprise(s): a model with errors or a mutant not caught`);
process.exit(surprises === 0 ? 0 : 1);
