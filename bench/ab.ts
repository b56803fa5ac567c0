/**
 * A/B: runs bench/ab-probe.ts against two checkouts, alternated (A B A B ...), in one sitting, and
 * prints each metric's ratio B / A with its spread (the ratio of each adjacent A-B pair: median,
 * min, max). Every speed claim in bench/README.md should be such a same-run ratio.
 *
 * Run: bun run bench/ab.ts <A> <B> [rounds]
 *   A, B: a commit (made into a temporary git worktree) or a directory holding a checkout;
 *   "." is this working tree. Default 5 rounds. QUICK=1 passes through to the probe.
 * Example: bun run bench/ab.ts HEAD~3 . 5
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [a, b, roundsArg] = process.argv.slice(2);
if (!a || !b) {
  console.error("usage: bun run bench/ab.ts <A: commit or dir> <B: commit or dir> [rounds]");
  process.exit(2);
}
const rounds = Number(roundsArg ?? 5);
const repo = resolve(import.meta.dir, "..");
const made: string[] = [];

function checkout(ref: string): { dir: string; label: string } {
  if (existsSync(join(resolve(ref), "src/index.ts"))) return { dir: resolve(ref), label: ref };
  const dir = mkdtempSync(join(tmpdir(), "btm-ab-tree-"));
  const add = Bun.spawnSync(["git", "-C", repo, "worktree", "add", "--detach", dir, ref], { stderr: "pipe" });
  if (add.exitCode !== 0) throw new Error(`git worktree add ${ref}: ${add.stderr.toString()}`);
  made.push(dir);
  // The checkout imports its dependencies (smol-toml) from this repository's node_modules.
  Bun.spawnSync(["ln", "-s", join(repo, "node_modules"), join(dir, "node_modules")]);
  const sha = Bun.spawnSync(["git", "-C", dir, "rev-parse", "--short", "HEAD"]).stdout.toString().trim();
  return { dir, label: `${ref} (${sha})` };
}

function probe(dir: string): Record<string, number> {
  const p = Bun.spawnSync(["bun", "run", join(import.meta.dir, "ab-probe.ts")], {
    env: { ...process.env, LIB: join(dir, "src/index.ts") },
    stdout: "pipe",
    stderr: "pipe",
  });
  const line = p.stdout.toString().trim().split("\n").pop() ?? "";
  if (p.exitCode !== 0 || !line.startsWith("{")) throw new Error(`probe of ${dir} failed: ${p.stderr.toString()}${p.stdout.toString()}`);
  return JSON.parse(line);
}

const A = checkout(a);
const B = checkout(b);
try {
  const runs: Array<[Record<string, number>, Record<string, number>]> = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    const [x, y] = r % 2 === 0 ? [probe(A.dir), probe(B.dir)] : (([bb, aa]) => [aa, bb])([probe(B.dir), probe(A.dir)]);
    runs.push([x, y]);
    console.error(`round ${r + 1}/${rounds} done`);
  }
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1]!;
  const fmt = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
  const rows = Object.keys(runs[0]![0]).map((metric) => {
    const as = runs.map(([x]) => x[metric]!);
    const bs = runs.map(([, y]) => y[metric]!);
    const ratios = runs.map(([x, y]) => y[metric]! / x[metric]!);
    return `| ${metric} | ${fmt(median(as))} | ${fmt(median(bs))} | **${median(ratios).toFixed(2)}** | ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} |`;
  });
  console.log(
    `\n### A/B (Bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, ${rounds} alternated rounds)\n\nA = ${A.label}, B = ${B.label}\n\n` +
      `| metric | A (median) | B (median) | B / A (median) | B / A spread |\n|---|---|---|---|---|\n${rows.join("\n")}`,
  );
} finally {
  for (const dir of made) {
    Bun.spawnSync(["git", "-C", repo, "worktree", "remove", "--force", dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}
