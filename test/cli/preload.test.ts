/** The bunfig.toml preload starts the manager before user code; user code gets it with manager(). */
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync } from "node:fs";

const repo = new URL("../../", import.meta.url).pathname;
const dir = `/tmp/btm-preload-${process.pid}`;

beforeAll(async () => {
  mkdirSync(`${dir}/node_modules`, { recursive: true });
  symlinkSync(repo, `${dir}/node_modules/bun-thread-manager`);
  await Bun.write(`${dir}/bunfig.toml`, `preload = ["bun-thread-manager/preload"]\n`);
  await Bun.write(`${dir}/threads.toml`, `[compute.cpu]\nmodule = "./handlers.ts"\nmax_threads = 1\n`);
  await Bun.write(`${dir}/other.toml`, `[compute.other]\nmodule = "./handlers.ts"\nmax_threads = 1\n`);
  await Bun.write(`${dir}/bad.toml`, `[compute.cpu]\nmodule = "./handlers.ts"\nnice = 99\n`);
  await Bun.write(`${dir}/handlers.ts`, `export function add([a, b]) { return a + b; }\n`);
  await Bun.write(`${dir}/app.ts`, `
import { manager } from "bun-thread-manager";
const tm = manager();
const name = process.env.POOL ?? "cpu";
console.log(await tm.compute(name).run("add", [20, 22]));
await tm.close();
`);
});

function run(env: Record<string, string> = {}) {
  const p = Bun.spawnSync(["bun", "run", "app.ts"], { cwd: dir, env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: p.exitCode, out: p.stdout.toString().trim(), err: p.stderr.toString() };
}

describe("preload", () => {
  test("./threads.toml is started before user code runs", () => {
    expect(run()).toMatchObject({ code: 0, out: "42" });
  });

  test("$THREAD_MANAGER_CONFIG picks another file", () => {
    expect(run({ THREAD_MANAGER_CONFIG: "other.toml", POOL: "other" })).toMatchObject({ code: 0, out: "42" });
  });

  test("a bad config stops the process with the key path", () => {
    const r = run({ THREAD_MANAGER_CONFIG: "bad.toml" });
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("compute.cpu.nice");
  });

  test("manager() without a preload says the preload did not run", async () => {
    const { manager } = await import("../../src/index.ts");
    expect(() => manager()).toThrow(/the preload did not run: add preload = \["bun-thread-manager\/preload"\] to bunfig.toml \(under \[test\] too/);
  });

  test("manager() when the preload ran but found no config says which file it looked for", () => {
    const empty = `${dir}/empty`;
    mkdirSync(`${empty}/node_modules`, { recursive: true });
    symlinkSync(repo, `${empty}/node_modules/bun-thread-manager`);
    Bun.write(`${empty}/bunfig.toml`, `preload = ["bun-thread-manager/preload"]\n`);
    Bun.write(`${empty}/app.ts`, `import { manager } from "bun-thread-manager"; try { manager(); } catch (e) { console.log(e.message); }`);
    const p = Bun.spawnSync(["bun", "run", "app.ts"], { cwd: empty, timeout: 30_000 });
    expect(p.stdout.toString()).toContain("the preload ran in");
    expect(p.stdout.toString()).toContain("./threads.toml");
  });

  test("the CLI starts nothing with the preload configured: check prints its own list, not the preload's stack", () => {
    const cli = (file: string) => Bun.spawnSync(["bun", `${repo}src/cli.ts`, "check", file], { cwd: dir, timeout: 30_000 });
    const good = cli("threads.toml");
    expect(good.exitCode).toBe(0);
    expect(good.stdout.toString()).toContain("threads.toml: ok (1 pools");
    const bad = cli("bad.toml"); // the preload would have thrown on ./threads.toml's neighbour; check reports bad.toml
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.toString()).toContain("error: compute.cpu.nice:");
    expect(bad.stderr.toString()).not.toContain("preload.ts");
    // Through the package's bin, as `bunx bun-thread-manager` runs it.
    const bin = Bun.spawnSync(["bun", "node_modules/bun-thread-manager/src/cli.ts", "check", "threads.toml"], { cwd: dir, timeout: 30_000 });
    expect(bin.stdout.toString()).toContain("ok (1 pools");
    // With THREAD_MANAGER_CONFIG pointing at a bad file, the preload would throw for an app; the CLI still runs.
    const env = Bun.spawnSync(["bun", `${repo}src/cli.ts`, "check", "threads.toml"], { cwd: dir, env: { ...process.env, THREAD_MANAGER_CONFIG: "bad.toml" }, timeout: 30_000 });
    expect(env.exitCode).toBe(0);
  });
});
