/**
 * bun build --compile: a single-file executable of an app with pools works when the worker entry
 * scripts and the handler modules are extra entry points (README, "Single-file executables").
 * The library and the handler module are deleted before the executable runs, so they can only
 * come from inside it.
 */
import { expect, test } from "bun:test";
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REPO = new URL("../../", import.meta.url).pathname;

test("a compiled app starts pools, runs typed handles and a dynamic pool: import, with nothing on disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "btm-compile-"));
  try {
    const lib = join(dir, "lib");
    cpSync(join(REPO, "src"), join(lib, "src"), { recursive: true });
    cpSync(join(REPO, "package.json"), join(lib, "package.json"));
    symlinkSync(join(REPO, "node_modules"), join(lib, "node_modules")); // smol-toml, at build time only
    writeFileSync(join(dir, "cpu.ts"), `export function add([a, b]: [number, number]) { return a + b; }\nexport function tid(_: unknown, ctx: { tid: number }) { return ctx.tid; }\n`);
    writeFileSync(join(dir, "app.ts"), `
      import "./lib/src/plugin.ts";
      import { ThreadManager } from "./lib/src/index.ts";
      import { gettid } from "./lib/src/platform/libc.ts";
      const tm = await ThreadManager.start({ compute: { cpu: { module: new URL("./cpu.ts", import.meta.url).href, max_threads: 2 } } });
      const cpu = tm.compute("cpu").bind<typeof import("./cpu.ts")>();
      const spec = ["pool", "cpu"].join(":"); // a computed specifier: the bundler leaves it to the runtime plugin
      const { add } = await import(spec);
      console.log(JSON.stringify({ add: await cpu.add([1, 2]), viaPlugin: await add([3, 4]), tid: await cpu.tid(), main: gettid() }));
      await tm.close();
    `);
    const build = Bun.spawnSync(
      ["bun", "build", "--compile", "./app.ts", "./lib/src/worker/pool-worker.ts", "./lib/src/scaling/pool-manager-worker.ts", "./cpu.ts", "--outfile", "app"],
      { cwd: dir, timeout: 60_000 },
    );
    expect(build.exitCode).toBe(0);
    rmSync(lib, { recursive: true });
    rmSync(join(dir, "cpu.ts"));
    const run = Bun.spawnSync([join(dir, "app")], { cwd: tmpdir(), timeout: 30_000 });
    expect(run.stderr.toString()).toBe("");
    const got = JSON.parse(run.stdout.toString().trim());
    expect(got.add).toBe(3);
    expect(got.viaPlugin).toBe(7);
    expect(got.tid).not.toBe(got.main);
    expect(run.exitCode).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
