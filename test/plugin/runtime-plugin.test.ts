/** The runtime plugin: `import { add } from "pool:cpu"` under the preload, registered by hand, and without a manager. */
import { expect, test } from "bun:test";

const APP = new URL("../fixtures/plugin-app/", import.meta.url).pathname;
const run = (script: string, cwd = APP) => Bun.spawnSync(["bun", script], { cwd, timeout: 30_000, env: { ...process.env, THREAD_MANAGER_CONFIG: "" } });

test("under the preload: pool: imports call the handlers on pool threads, with signal and errors; the module never loads on main", () => {
  const r = run("under-preload.ts");
  const out = r.stdout.toString();
  expect(r.stderr.toString()).toBe("");
  expect(out).not.toContain("LOADED ON MAIN");
  const got = JSON.parse(out.trim().split("\n").at(-1)!);
  expect(got.add).toBe(5);
  expect(got.echo).toBe("x");
  expect(got.tid).toBeGreaterThan(0);
  expect(got.tid).not.toBe(got.main);
  expect(got.failed).toBe("TaskError: RangeError: nope");
  expect(got.aborted).toBe("stop");
  expect(r.exitCode).toBe(0);
});

test("import \"bun-thread-manager/plugin\" in an app that starts its own manager", () => {
  const r = Bun.spawnSync(["bun", "--no-install", `${APP}explicit.ts`], { cwd: "/", timeout: 30_000 }); // cwd without bunfig: no preload
  expect(r.stderr.toString()).toBe("");
  expect(r.stdout.toString().trim()).toBe("42 ok");
  expect(r.exitCode).toBe(0);
});

test("no manager running: the pool: import fails saying how to start one", () => {
  const r = Bun.spawnSync(["bun", `${APP}no-manager.ts`], { cwd: "/", timeout: 30_000 });
  const out = r.stdout.toString();
  expect(out).toContain('import "pool:cpu": no thread manager was started: the preload did not run');
  expect(out).toContain("ThreadManager.start");
});

test("a pool: module follows the current manager: a new one after close serves it, none rejects", () => {
  const r = Bun.spawnSync(["bun", `${APP}restart.ts`], { cwd: "/", timeout: 30_000 });
  expect(r.stderr.toString()).toBe("");
  expect(r.stdout.toString().trim().split("\n")).toEqual(["42 ok", "42 ok", "ERR_NO_MANAGER", "says it was closed"]);
});

test("types: export * targets and a default export are declared, the mapping's default is not an alias, --out makes its directory", () => {
  const dir = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "btm-types-"));
  const fs = require("node:fs");
  try {
    fs.writeFileSync(`${dir}/base.ts`, "export function baseFn(n: number) { return n; }\nexport default function notReexported() {}\n");
    fs.writeFileSync(`${dir}/cpu.ts`, 'export * from "./base";\nexport default function dbl(n: number) { return 2 * n; }\nexport function add([a, b]: [number, number]) { return a + b; }\n');
    fs.writeFileSync(`${dir}/threads.toml`, '[compute.cpu]\nmodule = "./cpu.ts"\nmax_threads = 1\n[mapping]\nmaths = "cpu"\ndefault = "cpu"\n');
    const cli = new URL("../../src/cli.ts", import.meta.url).pathname;
    const r = Bun.spawnSync(["bun", cli, "types", "--out", "types/pools.d.ts", "threads.toml"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const text = fs.readFileSync(`${dir}/types/pools.d.ts`, "utf8");
    expect(text).toContain('declare module "pool:cpu"');
    expect(text).toContain('type M = typeof import("../cpu");');
    expect(text).toContain('export const baseFn: PoolExport<M["baseFn"]>;');
    expect(text).toContain("export default _default;");
    expect(text).toContain('declare module "pool:maths"');
    expect(text).not.toContain('"pool:default"');
    const bad = Bun.spawnSync(["bun", cli, "types", "threads.toml", "--out"], { cwd: dir });
    expect(bad.exitCode).toBe(2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
