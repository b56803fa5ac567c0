/** Typed handles (pool.bind, pool.kernels) at run time, and their types checked by tsc on a fixture. */
import { afterEach, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { HandlerNotFoundError, TaskError } from "../../src/index.ts";
import { managers, rejection } from "../pools/helpers.ts";
import { gettid } from "../../src/platform/libc.ts";

const m = managers();
afterEach(() => m.closeAll());
const APP = new URL("../fixtures/typed-app/", import.meta.url).pathname;
type Cpu = typeof import("../fixtures/typed-app/cpu.ts");
type Io = typeof import("../fixtures/typed-app/io.ts");

async function start() {
  return m.start({
    compute: { cpu: { module: `${APP}cpu.ts`, static_threads: 2, dynamic_threads: 0, max_threads: 2 } },
    async: { io: { module: `${APP}io.ts`, worker_threads: 1 } },
  });
}

test("bind(): methods run the named handler on a pool thread, with signal and TaskError like run()", async () => {
  const tm = await start();
  const cpu = tm.compute("cpu").bind<Cpu>();
  expect(await cpu.add([2, 3])).toBe(5);
  expect(await cpu.fib(20)).toBe(6765);
  const tid = await cpu.tid();
  expect(tid).toBeGreaterThan(0);
  expect(tid).not.toBe(gettid()); // not the main thread
  const err = await rejection(cpu.fail("bad input"));
  expect(err).toBeInstanceOf(TaskError);
  expect(err.name).toBe("RangeError");
  expect(err.message).toBe("bad input");
  const controller = new AbortController();
  const running = cpu.spinUntilAborted(5000, { signal: controller.signal });
  setTimeout(() => controller.abort(new Error("caller gave up")), 50);
  expect((await rejection(running)).message).toBe("caller gave up");
  const io = tm.async("io").bind<Io>();
  expect(await io.echo("hi")).toBe("hi");
  const c2 = new AbortController();
  const waiting = io.waitForAbort(5000, { signal: c2.signal });
  setTimeout(() => c2.abort(), 20);
  expect(await rejection(waiting)).toBeTruthy();
  // A name the module does not export (types would refuse it; at run time: like run()).
  expect(await rejection((cpu as any).renamed(1))).toBeInstanceOf(HandlerNotFoundError);
});

test("a handle can be awaited, returned from async functions, printed and serialized", async () => {
  const tm = await start();
  const get = async () => tm.compute("cpu").bind<Cpu>();
  const cpu = await get(); // would never settle if the handle had a "then"
  expect(await cpu.add([1, 1])).toBe(2);
  expect(JSON.stringify({ cpu })).toBe('{"cpu":{}}'); // methods are left out, no toJSON call reaches the pool
  expect(String(cpu)).toBe("[object Object]");
  expect(cpu instanceof Object).toBe(true);
  expect("add" in cpu).toBe(true);
  const [tid, three] = await cpu.pair();
  expect(three).toBe(3);
  expect(tid).toBeGreaterThan(0);
});

test("kernels(): parallelFor through typed methods", async () => {
  const tm = await start();
  const k = tm.compute("cpu").kernels<Cpu>();
  const data = new Float64Array(new SharedArrayBuffer(8 * 1000)).fill(1.5);
  expect(await k.sum(0, 1000, { arg: data, grain: 100 })).toBe(1500);
});

test("tsc: the fixture using handles, kernels and pool: imports right compiles; each misuse is an error", () => {
  const tsc = new URL("../../node_modules/typescript/bin/tsc", import.meta.url).pathname;
  const cli = new URL("../../src/cli.ts", import.meta.url).pathname;
  const types = Bun.spawnSync(["bun", cli, "types", "threads.toml", "--out", "pools.d.ts"], { cwd: APP });
  expect(types.exitCode).toBe(0);
  try {
    const good = Bun.spawnSync(["bun", tsc, "-p", "tsconfig.json"], { cwd: APP });
    expect(good.stdout.toString() + good.stderr.toString()).toBe("");
    expect(good.exitCode).toBe(0);
    const bad = Bun.spawnSync(["bun", tsc, "-p", "tsconfig.bad.json"], { cwd: APP });
    const out = bad.stdout.toString();
    expect(bad.exitCode).not.toBe(0);
    const lines = (text: string) => text.split("\n").flatMap((l, i) => (l.includes("// BAD") ? [i + 1] : []));
    const expected = lines(require("node:fs").readFileSync(`${APP}bad.ts`, "utf8"));
    const reported = [...out.matchAll(/^bad\.ts\((\d+),\d+\): error/gm)].map((x) => Number(x[1]));
    expect([...new Set(reported)].sort((a, b) => a - b)).toEqual(expected); // every marked line, and nothing else
  } finally {
    rmSync(`${APP}pools.d.ts`, { force: true });
  }
}, 60_000);
