/** close() says what happened; a drain: false during a draining close takes effect; tm.close stops everything even when a pool's close fails. */
import { afterEach, expect, test } from "bun:test";
import { MATH, managers, rejection } from "./helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

test("pool.close() resolves with drained, cancelled and cut-at-deadline counts", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const runs = Array.from({ length: 10 }, () => cpu.run("spin", 20).catch((e) => e));
  const outcome = await cpu.close();
  expect(outcome).toEqual({ pool: "cpu", drained: 10, cancelled: 0, cutAtDeadline: 0, timedOut: false });
  expect((await Promise.all(runs)).every((r) => r === "done")).toBe(true);
});

test("drain: false cancels what has not started; a deadline cuts what is still running", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1, abort_grace_ms: 60_000 } } });
  const cpu = tm.compute("cpu");
  const running = rejection(cpu.run("busyThenMark", [400, 0, new Int32Array(new SharedArrayBuffer(4))]));
  await Bun.sleep(50);
  const queued = Array.from({ length: 5 }, () => rejection(cpu.run("add", [1, 1])));
  const outcome = await cpu.close({ drain: false, timeoutMs: 100 });
  expect(outcome.cancelled).toBe(5);
  expect(outcome.cutAtDeadline).toBe(1);
  expect(outcome.timedOut).toBe(true);
  expect((await running).code).toBe("ERR_POOL_CLOSED");
  for (const q of await Promise.all(queued)) expect(q.code).toBe("ERR_POOL_CLOSED");
});

/** submitted = completed + failed + cancelled + crashed once nothing is pending: the counters add up after any close. */
function addsUp(x: { submitted: number; completed: number; failed: number; cancelled: number; crashed: number; pending: number }) {
  expect(x.pending).toBe(0);
  expect(x.completed + x.failed + x.cancelled + x.crashed).toBe(x.submitted);
}

test("a map batch cut by close counts its items in the outcome and in metrics, and the counters add up", async () => {
  for (const how of [{ drain: false }, { timeoutMs: 60 }]) {
    const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1, abort_grace_ms: 60_000 } } });
    const cpu = tm.compute("cpu");
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const batch = rejection(cpu.map("countOrFail", Array.from({ length: 2000 }, (_, i) => [counter, i, -1, 0.2])));
    const runs = Array.from({ length: 500 }, () => cpu.run("spin", 0.2).catch(() => "cut"));
    await Bun.sleep(30);
    const outcome = await cpu.close(how);
    expect((await batch).code).toBe("ERR_POOL_CLOSED");
    await Promise.all(runs);
    const ran = Atomics.load(counter, 0);
    expect(ran).toBeLessThan(2000);
    const notRun = outcome.cancelled + outcome.cutAtDeadline;
    expect(notRun).toBeGreaterThan(2000 - ran); // every map item not run and the runs not done, not one for the whole batch
    const x = cpu.metrics();
    addsUp(x);
    expect(x.cancelled).toBe(notRun);
    await m.closeAll();
  }
});

test("close({ drain: false }) while a draining close is under way cancels the queued tasks; both return the same outcome", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  const runs = Array.from({ length: 20 }, () => cpu.run("spin", 30).catch((e) => e));
  const draining = cpu.close();
  await Bun.sleep(40);
  const hurried = cpu.close({ drain: false });
  const [a, b] = await Promise.all([draining, hurried]);
  expect(a).toBe(b);
  expect(a.cancelled).toBeGreaterThan(10);
  expect(a.drained + a.cancelled).toBe(20);
  const settled = await Promise.all(runs);
  expect(settled.filter((r) => r === "done").length).toBe(a.drained);
});

test("tm.close() returns every pool's outcome and stops the manager and runtime threads even when a pool's close rejects", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 2 } }, async: { io: { module: MATH.href.replace("math", "io"), worker_threads: 1 } } });
  const closing = tm.close();
  expect(tm.close()).toBe(closing); // a second close: the same promise, as pool.close() gives
  const outcomes = await closing;
  expect(Object.keys(outcomes).sort()).toEqual(["cpu", "io"]);
  expect(outcomes.cpu!.timedOut).toBe(false);
  const again = await rejection(tm.compute("cpu").run("add", [1, 2]));
  expect(again.code).toBe("ERR_POOL_CLOSED");
  const tm2 = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, max_threads: 2 } } });
  const cpu = tm2.compute("cpu") as unknown as { close(): Promise<unknown> };
  cpu.close = () => Promise.reject(new Error("close failed"));
  const before = tm2.threads().filter((t) => t.role === "manager").length;
  expect(before).toBe(1);
  const e = await rejection(tm2.close());
  expect(e.message).toBe("close failed");
  expect(tm2.threads().filter((t) => t.role === "manager").length).toBe(0); // stopped in the finally
  delete (cpu as { close?: unknown }).close; // the real close, for the cleanup
});
