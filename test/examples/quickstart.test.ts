/**
 * The README's quick start, as a new user runs it: a fresh clone of this repository, then in
 * examples/quickstart `bun install` and `bun run main.ts`; and its tsconfig type-checks it.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, rmSync } from "node:fs";

const repo = new URL("../../", import.meta.url).pathname;
const clone = `/tmp/btm-quickstart-${process.pid}`;
afterAll(() => rmSync(clone, { recursive: true, force: true }));

function sh(cmd: string[], cwd: string, timeout = 120_000) {
  const p = Bun.spawnSync(cmd, { cwd, timeout, env: { ...process.env, NO_COLOR: "1" } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** In the clone's examples/`name`: `bun install`, then `bun run main.ts`, which must exit 0 and print nothing on stderr. */
function installAndRun(name: string): { dir: string; lines: string[] } {
  const dir = `${clone}/examples/${name}`;
  expect(sh(["bun", "install"], dir).code).toBe(0);
  const run = sh(["bun", "run", "main.ts"], dir);
  expect(run.err).toBe("");
  expect(run.code).toBe(0);
  return { dir, lines: run.out.trim().split("\n") };
}

test("the quick start runs from a fresh clone and prints what it did", () => {
  if (Bun.which("git")) {
    const git = sh(["git", "clone", "--quiet", "--depth", "1", `file://${repo}`, clone], "/tmp");
    expect(git.err).toBe("");
  } else {
    // No git on this machine (CI may have only Node and npm): a copy of the checkout without installs.
    cpSync(repo, clone, { recursive: true, filter: (src) => !src.includes("/node_modules") && !src.includes("/.git") });
  }
  const { dir, lines } = installAndRun("quickstart");
  expect(lines).toContain("add([1, 2]) = 3");
  expect(lines).toContain("fib(27) = 196418 (fork-join across the pool)");
  expect(lines).toContain("sum of 1M halves = 500000");
  expect(lines).toContain("lines in main.ts = 36");
  expect(lines).toContain("sleep(10 s) with a 50 ms timeout: TimeoutError");
  expect(lines).toContain("a handler that throws: TaskError - sqrt of a negative number: -1");
  expect(lines.filter((l) => l.startsWith("thread ")).length).toBeGreaterThanOrEqual(4);
  expect(lines.at(-1)).toBe("closed");
  const tsc = sh(["bun", `${repo}node_modules/typescript/bin/tsc`, "--noEmit", "-p", "."], dir);
  expect(tsc.out + tsc.err).toBe("");
  expect(tsc.code).toBe(0);
}, 180_000);

test("the pools-call-pools example: a serving pool's routes and an async handler call the compute pool", () => {
  const { dir, lines } = installAndRun("pools-call-pools");
  expect(lines).toContain("POST /hash hello = 2cf24dba5fb0a30e");
  expect(lines).toContain('GET /fib/25 = {"fib":75025,"thread":0}');
  expect(lines.find((l) => l.startsWith("hashLines"))).toBe("hashLines on web, hashed on cpu: ca978112 3e23e816 2e7d2c03");
  expect(lines.find((l) => l.startsWith("tasks on cpu by submitter"))).toBe("tasks on cpu by submitter: main 0, web-0 5");
  expect(lines.at(-1)).toBe("closed");
  const tsc = sh(["bun", `${repo}node_modules/typescript/bin/tsc`, "--noEmit", "-p", "."], dir);
  expect(tsc.out + tsc.err).toBe("");
  expect(tsc.code).toBe(0);
}, 180_000);

test("the packed package ships no example's node_modules or lock file, even after the examples were installed", () => {
  const pack = sh(["bun", "pm", "pack", "--dry-run"], clone); // the examples above were installed in this clone
  expect(pack.code).toBe(0);
  const listed = pack.out + pack.err;
  expect(listed).toContain("examples/quickstart/main.ts");
  expect(listed).not.toContain("node_modules");
  expect(listed).not.toContain("bun.lock");
  expect(listed).toContain("docs/bun-platform.md");
});
