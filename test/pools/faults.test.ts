/**
 * Faults as an operator meets them: tasks that never return (aborted, or past task_timeout_ms),
 * faults that escape async handlers, a close started from a timer or a signal handler.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { TimeoutError } from "../../src/index.ts";
import { managers, rejection, until } from "./helpers.ts";

const FAULTS = new URL("../fixtures/faults.ts", import.meta.url);
const INDEX = new URL("../../src/index.ts", import.meta.url).href;
const m = managers();
afterEach(() => m.closeAll());

describe("stuck tasks do not wedge a pool", () => {
  test("two aborted infinite loops on a 2-thread pool: both threads are replaced, then 1000 tasks complete", async () => {
    const tm = await m.start({ compute: { c: { module: FAULTS, max_threads: 2, abort_grace_ms: 200 } } });
    const pool = tm.compute("c");
    const acs = [new AbortController(), new AbortController()];
    const loops = acs.map((ac) => pool.run("forever", undefined, { signal: ac.signal }));
    await until(() => pool.metrics().threads.every((t) => t.running === 1), 5000, "both threads in the loop");
    acs.forEach((ac) => ac.abort(new Error("stop")));
    for (const l of loops) expect((await rejection(l)).message).toBe("stop");
    await until(() => pool.metrics().replaced === 2 && pool.threadList().length === 2, 10_000, "both threads replaced");
    const results = await Promise.race([
      Promise.all(Array.from({ length: 1000 }, (_, i) => pool.run<number>("add", [i, 1]))),
      Bun.sleep(10_000).then(() => "hung" as const),
    ]);
    expect(results).not.toBe("hung");
    expect((results as number[])[999]).toBe(1000);
    expect(pool.metrics().replaced).toBe(2);
    expect(pool.metrics().crashed).toBe(0); // the aborted tasks were settled by their abort already
  }, 30_000);

  test("task_timeout_ms aborts a task that runs too long with a TimeoutError and replaces its thread if it does not stop", async () => {
    const tm = await m.start({ compute: { c: { module: FAULTS, max_threads: 1, task_timeout_ms: 100, abort_grace_ms: 100 } } });
    const pool = tm.compute("c");
    const polite = await rejection(pool.run("busy", 5000)); // polls its signal: stops by itself
    expect(polite).toBeInstanceOf(TimeoutError);
    expect(polite.message).toContain("task_timeout_ms (100 ms)");
    expect(pool.metrics().replaced).toBe(0);
    const stuck = await rejection(pool.run("forever"));
    expect(stuck).toBeInstanceOf(TimeoutError);
    await until(() => pool.metrics().replaced === 1 && pool.threadList().length === 1, 10_000, "the thread replaced");
    expect(await pool.run("add", [2, 3])).toBe(5);
  }, 30_000);
});

describe("async fault isolation", () => {
  // In a child process: `bun test` handles unhandled rejections in Workers its own way (it ends the
  // thread), so the runtime behaviour users get is observed where users get it.
  test("an uncaught timer error fails its own task only; an unhandled rejection is counted; 50 bystanders unharmed", async () => {
    const file = `/tmp/btm-faults-${process.pid}.ts`;
    await Bun.write(file, `import { ThreadManager, TaskError } from ${JSON.stringify(INDEX)};
const tm = await ThreadManager.start({ async: { a: { module: ${JSON.stringify(FAULTS.href)}, worker_threads: 1, concurrency: 128 } } });
const pool = tm.async("a");
const bystanders = Array.from({ length: 50 }, (_, i) => pool.run("slowEcho", [100, i]));
const thrower = await pool.run("throwInTimer", 10).then(() => "resolved", (e) => ({ taskError: e instanceof TaskError, message: e.message }));
const stray = await pool.run("strayRejection", 10);
const settled = await Promise.allSettled(bystanders);
const again = await pool.run("strayRejection", 1);
for (let i = 0; i < 100 && pool.metrics().threads[0].faults < 2; i++) await Bun.sleep(10);
const t = pool.metrics().threads[0];
console.log(JSON.stringify({ thrower, stray, again, bystandersOk: settled.filter((r, i) => r.status === "fulfilled" && r.value === i).length,
  faults: t.faults, alive: t.alive, crashed: pool.metrics().crashed }));
await tm.close();`);
    const p = Bun.spawnSync(["bun", file]);
    const lines = p.stdout.toString().trim().split("\n");
    const r = JSON.parse(lines.at(-1)!);
    expect(r.thrower).toEqual({ taskError: true, message: "thrown in a timer" });
    expect(r.stray).toBe("resolved");
    expect(r.again).toBe("resolved");
    expect(r.bystandersOk).toBe(50);
    expect(r).toMatchObject({ faults: 2, alive: true, crashed: 0 });
    const logged = p.stderr.toString().split("an unhandled rejection outside any task").length - 1;
    expect(logged).toBe(1); // logged once, counted twice
  }, 30_000);
});

describe("graceful shutdown", () => {
  /** Runs `body` in a fresh bun process; returns its stdout lines and exit code. */
  async function child(body: string, signal?: NodeJS.Signals) {
    const file = `/tmp/btm-close-${process.pid}-${Math.random().toString(36).slice(2)}.ts`;
    await Bun.write(file, `import { ThreadManager } from ${JSON.stringify(INDEX)};\n${body}`);
    const p = Bun.spawn(["bun", file], { stdout: "pipe", stderr: "pipe" });
    if (signal) {
      const reader = p.stdout.getReader();
      let seen = "";
      while (!seen.includes("ready")) seen += new TextDecoder().decode((await reader.read()).value);
      p.kill(signal);
      let rest = "";
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
      return { code: await p.exited, out: (seen + rest).trim().split("\n") };
    }
    const out = await new Response(p.stdout).text();
    return { code: await p.exited, out: out.trim().split("\n") };
  }

  const START = `const tm = await ThreadManager.start({ compute: { c: { module: ${JSON.stringify(FAULTS.href)}, max_threads: 2 } } });
await tm.compute("c").run("add", [1, 2]);`;

  test("close() from a timer: the code after it runs, exit code 0", async () => {
    const r = await child(`${START}
setTimeout(async () => {
  await tm.close();
  await Bun.sleep(20);
  console.log("flushed after close");
}, 10);`);
    expect(r.out).toContain("flushed after close");
    expect(r.code).toBe(0);
  }, 30_000);

  test("the README's SIGTERM recipe: stop the server, close, flush; exit code 0", async () => {
    const r = await child(`${START}
const server = Bun.serve({ port: 0, fetch: async () => new Response(String(await tm.compute("c").run("add", [2, 2]))) });
process.on("SIGTERM", async () => {
  server.stop();
  await tm.close();
  await Bun.write("/dev/null", "logs");
  console.log("flushed after close");
  process.exit(0);
});
console.log("ready");`, "SIGTERM");
    expect(r.out).toContain("flushed after close");
    expect(r.code).toBe(0);
  }, 30_000);
});
