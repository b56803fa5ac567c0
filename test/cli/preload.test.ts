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

  test("manager() without a preload says how to get one", async () => {
    const { manager } = await import("../../src/index.ts");
    expect(() => manager()).toThrow(/preload/);
  });
});
