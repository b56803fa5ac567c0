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

function verify(model: string, mutant: boolean): { errors: number; states: number; ms: number; detail: string } {
  const work = mkdtempSync(join(tmpdir(), "btm-spin-"));
  try {
    copyFileSync(join(dir, model), join(work, model));
    const t0 = performance.now();
    const gen = Bun.spawnSync(["spin", ...(mutant ? ["-DMUTANT"] : []), "-a", model], { cwd: work });
    if (gen.exitCode !== 0) throw new Error(`spin -a ${model}: ${gen.stdout}${gen.stderr}`);
    const cc = Bun.spawnSync(["gcc", "-O2", "-DSAFETY", "-o", "pan", "pan.c"], { cwd: work });
    if (cc.exitCode !== 0) throw new Error(`gcc pan.c (${model}): ${cc.stderr}`);
    const run = Bun.spawnSync(["./pan", "-m1000000"], { cwd: work });
    const out = run.stdout.toString();
    const ms = performance.now() - t0;
    const errors = Number(/errors: (\d+)/.exec(out)?.[1] ?? NaN);
    const states = Number(/(\d+) states, stored/.exec(out)?.[1] ?? NaN);
    const detail = /^pan:1: (.*)$/m.exec(out)?.[1] ?? "";
    if (Number.isNaN(errors)) throw new Error(`pan (${model}) printed no result:\n${out}${run.stderr}`);
    return { errors, states, ms, detail };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

for (const model of models) {
  const ok = verify(model, false);
  const bad = verify(model, true);
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
