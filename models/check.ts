/**
 * bun run model-check: every Promela model in models/ explored exhaustively by Spin (0 errors
 * expected), and each model's mutant (-DMUTANT: a one-line change that brings back a known bug;
 * at least one error expected), so a model that cannot fail is caught. Installs nothing: says what
 * is missing. Prints states stored and time per run; exit 1 on any surprise.
 */
import { mkdtempSync, readdirSync, rmSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const missing = ["spin", "gcc"].filter((tool) => Bun.which(tool) === null);
if (missing.length > 0) {
  console.error(`model-check: ${missing.join(" and ")} not found. Install: sudo apt-get install -y spin gcc (Debian/Ubuntu), or see https://spinroot.com`);
  process.exit(2);
}

const dir = import.meta.dir;
const models = readdirSync(dir).filter((f) => f.endsWith(".pml")).sort();
let surprises = 0;
const rows: string[] = [];

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

async function verify(model: string, mutant: boolean): Promise<Outcome> {
  const work = mkdtempSync(join(tmpdir(), "btm-spin-"));
  try {
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".pml") || f.endsWith(".inc"))) copyFileSync(join(dir, f), join(work, f));
    const t0 = performance.now();
    const gen = await run(["spin", ...(mutant ? ["-DMUTANT"] : []), "-a", model], work);
    if (gen.code !== 0) throw new Error(`spin -a ${model}: ${gen.out}${gen.err}`);
    const cc = await run(["gcc", "-O2", "-DSAFETY", "-o", "pan", "pan.c"], work);
    if (cc.code !== 0) throw new Error(`gcc pan.c (${model}): ${cc.err}`);
    const pan = await run(["./pan", "-m1000000"], work);
    const out = pan.out;
    const ms = performance.now() - t0;
    const errors = Number(/errors: (\d+)/.exec(out)?.[1] ?? NaN);
    const states = Number(/(\d+) states, stored/.exec(out)?.[1] ?? NaN);
    const detail = /^pan:1: (.*)$/m.exec(out)?.[1] ?? "";
    if (Number.isNaN(errors)) throw new Error(`pan (${model}) printed no result:\n${out}${pan.err}`);
    return { errors, states, ms, detail };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// Every model and mutant is its own spin + gcc + pan run: as many at once as there are cores.
const jobs = models.flatMap((model) => [false, true].map((mutant) => ({ model, mutant })));
const outcomes = new Map<string, Outcome>();
let next = 0;
await Promise.all(Array.from({ length: Math.max(1, navigator.hardwareConcurrency) }, async () => {
  while (next < jobs.length) {
    const { model, mutant } = jobs[next++]!;
    outcomes.set(`${model}${mutant}`, await verify(model, mutant));
  }
}));
for (const model of models) {
  const ok = outcomes.get(`${model}false`)!;
  const bad = outcomes.get(`${model}true`)!;
  const modelOk = ok.errors === 0;
  const mutantCaught = bad.errors > 0;
  if (!modelOk || !mutantCaught) surprises++;
  rows.push(
    `| ${model} | ${ok.states} | ${ok.ms.toFixed(0)} ms | ${modelOk ? "0 errors" : `**${ok.errors} errors: ${ok.detail}**`} | ${mutantCaught ? `caught: ${bad.detail}` : "**not caught**"} (${bad.states} states, ${bad.ms.toFixed(0)} ms) |`,
  );
}
console.log("| model | states | time | result | mutant |\n|---|---:|---:|---|---|\n" + rows.join("\n"));
console.log(surprises === 0 ? `model-check: ${models.length} models verified, ${models.length} mutants caught` : `model-check: ${surprises} model(s) failed or let their mutant through`);
process.exit(surprises === 0 ? 0 : 1);
