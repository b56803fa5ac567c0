/** The CLI: check and plan, their output and exit codes. Nothing is started. */
import { beforeAll, describe, expect, test } from "bun:test";

const CLI = new URL("../../src/cli.ts", import.meta.url).pathname;
const dir = `/tmp/btm-cli-${process.pid}`;

function cli(...args: string[]) {
  const p = Bun.spawnSync(["bun", CLI, ...args]);
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

beforeAll(async () => {
  await Bun.write(`${dir}/h.ts`, "export function f() {}\n");
  await Bun.write(`${dir}/good.toml`, `
default_core_allocation = { DedicatedCoreSet = { min = 0, max = 1 } }

[runtime]
core_allocation.DedicatedCoreSet = { min = 0, max = 1 }

[compute.cpu]
module = "./h.ts"
max_threads = 2
core_allocation.PinnedCores = { min = 0, max = 1 }
policy = "BATCH"
nice = 5

[native.bg]
max_threads = 1
core_allocation.DedicatedCoreSet = { min = 1, max = 2 }
policy = "FIFO"
priority = 10

[mapping]
default = "cpu"
`);
  await Bun.write(`${dir}/bad.toml`, `
[compute.cpu]
module = "./missing.ts"
nice = 40
max_thread = 2
core_allocation.DedicatedCoreSet = { min = 1, max = 1 }

[mapping]
http = "io"
`);
  await Bun.write(`${dir}/broken.toml`, "[compute.cpu\n");
});

describe("cli", () => {
  test("types and check on a broken module: an error line naming the file and place, exit 1; check refuses a directory", async () => {
    await Bun.write(`${dir}/bad.ts`, "export function a(\n");
    await Bun.write(`${dir}/garbage.ts`, new Uint8Array([0x2e, 0xfe, 0x00, 0x7f, 0x80, 0x41]));
    await Bun.write(`${dir}/syntax.toml`, '[compute.cpu]\nmodule = "./bad.ts"\n');
    await Bun.write(`${dir}/garbage.toml`, '[compute.cpu]\nmodule = "./garbage.ts"\n');
    await Bun.write(`${dir}/sub/x.ts`, "export const x = 1;\n");
    await Bun.write(`${dir}/dir.toml`, '[compute.cpu]\nmodule = "./sub"\n');
    for (const [toml, at] of [["syntax", "bad.ts:1:"], ["garbage", "garbage.ts:1:"]]) {
      const r = cli("types", `${dir}/${toml}.toml`);
      expect(r.code).toBe(1);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).toStartWith(`error: cannot read the exports of ${dir}/${at}`);
      expect(r.out).toBe("");
      const c = cli("check", `${dir}/${toml}.toml`); // check reads the modules too (it used to say ok)
      expect(c.code).toBe(1);
      expect(c.err).toStartWith(`error: pool "cpu": cannot read the exports of ${dir}/${at}`);
    }
    const d = cli("check", `${dir}/dir.toml`);
    expect(d.code).toBe(1);
    expect(d.err).toContain("compute.cpu.module: is a directory, not a module file");
  });

  test("check: a good file exits 0", () => {
    const r = cli("check", `${dir}/good.toml`);
    expect(r.code).toBe(0);
    expect(r.out).toContain("ok (2 pools");
  });

  test("check: every error with its key path, exit 1", () => {
    const r = cli("check", `${dir}/bad.toml`);
    expect(r.code).toBe(1);
    for (const path of ["compute.cpu.max_thread", "compute.cpu.nice", "compute.cpu.core_allocation.DedicatedCoreSet.max", "compute.cpu.module", "mapping.http"]) {
      expect(r.err).toContain(`error: ${path}:`);
    }
    expect(r.err).toContain("5 errors");
  });

  test("check: TOML syntax errors and missing files, exit 1", () => {
    expect(cli("check", `${dir}/broken.toml`)).toMatchObject({ code: 1 });
    expect(cli("check", `${dir}/broken.toml`).err).toContain("line");
    expect(cli("check", `${dir}/nope.toml`).err).toContain("cannot read");
  });

  test.skipIf(process.platform !== "linux" || navigator.hardwareConcurrency < 2)("plan: pools, threads, cores, policy, priority and a per-core map", () => {
    const r = cli("plan", `${dir}/good.toml`);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/cpu\s+compute static\s+cpu-s0\s+0\s+BATCH\s+5\s+-/);
    expect(r.out).toMatch(/cpu\s+compute dynamic\s+cpu-d1\s+0\s+BATCH\s+5\s+-/);
    expect(r.out).toMatch(/bg\s+native \(up to\)\s+bg-0\s+1\s+FIFO\s+-\s+10/);
    expect(r.out).toMatch(/\(manager\)\s+manager\s+pool-manager\s+0/); // with [runtime], off the dedicated core
    expect(r.out).toMatch(/\(main\)\s+main\s+main\s+0/);
    expect(r.out).toMatch(/^0\s+cpu-s0, cpu-d1, pool-manager, main, bun-helpers$/m);
    expect(r.out).toMatch(/^1\s+bg-0$/m);
    expect(r.err).toContain("warning: compute.cpu.max_threads: 2 threads on 1 core"); // warnings: exit 0 still
    expect(r.out).toContain("default -> cpu");
  });

  test("--help exits 0 with the usage; --version prints the package's", async () => {
    const help = cli("--help");
    expect(help.code).toBe(0);
    expect(help.out).toContain("check <file>");
    const version = cli("--version");
    expect(version.code).toBe(0);
    expect(version.out.trim()).toBe((await Bun.file(new URL("../../package.json", import.meta.url)).json()).version);
  });

  test("check and plan warn (exit 0) when a FIFO pool shares a core with main, a non-realtime pool or Bun's helpers", async () => {
    await Bun.write(`${dir}/fifo.toml`, `
[compute.cpu]
module = "./h.ts"
max_threads = 1

[native.rt]
policy = "FIFO"
priority = 5
`);
    for (const cmd of ["check", "plan"]) {
      const r = cli(cmd, `${dir}/fifo.toml`);
      expect(r.code).toBe(0);
      expect(r.err).toContain("warning: native.rt.policy: FIFO threads share cores");
      expect(r.err).toContain("with the main thread");
      expect(r.err).toContain("with Bun's runtime threads");
      expect(r.err).toContain('with pool "cpu" (compute.cpu.core_allocation, BATCH)');
    }
  });

  test("usage errors exit 2 and say what was wrong before the usage", () => {
    expect(cli().code).toBe(2);
    expect(cli().err).toStartWith("error: no command given\n");
    expect(cli("frobnicate", "x").code).toBe(2);
    expect(cli("frobnicate", "x").err).toStartWith('error: unknown command "frobnicate"\n');
    expect(cli("check").err).toStartWith("error: check needs a config file");
    expect(cli("check").err).toContain("usage");
  });
});
