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
  expect(out).toContain('import "pool:cpu": no thread manager is running');
  expect(out).toContain("ThreadManager.start");
});
