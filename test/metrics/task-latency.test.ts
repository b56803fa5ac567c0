/** Task wait and run times: recorded by the pool threads, reported as percentiles and Prometheus buckets. */
import { afterEach, expect, test } from "bun:test";
import { BUCKETS, bucketOf, bucketTop } from "../../src/common/task-timings.ts";
import { IO, MATH, managers } from "../pools/helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

test("buckets: exact below 32 us, then at most 1/16 of the value wide, contiguous and ordered", () => {
  for (let us = 0; us < 32; us++) expect(bucketTop(bucketOf(us))).toBe(us);
  let prevTop = 31;
  for (let i = 32; i < BUCKETS; i++) {
    const top = bucketTop(i);
    const bottom = prevTop + 1;
    expect(bucketOf(bottom)).toBe(i);
    expect(bucketOf(top)).toBe(i);
    expect((top - bottom + 1) / bottom).toBeLessThanOrEqual(1 / 16);
    prevTop = top;
  }
  expect(bucketOf(2 ** 31 - 1)).toBe(BUCKETS - 1);
  expect(bucketOf(-5)).toBe(0);
});

test("run time: a 20 ms task reports 20 ms within a bucket's width; wait time: the tasks queued behind it", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, static_threads: 1, dynamic_threads: 0, max_threads: 1, scaler: { enabled: false } } } });
  const cpu = tm.compute("cpu");
  await Promise.all([cpu.run("spin", 20), cpu.run("add", [1, 2]), cpu.run("add", [3, 4])]);
  const l = tm.metrics().cpu!.latency;
  expect(l.run.count).toBe(3);
  expect(l.run.max).toBeGreaterThanOrEqual(20);
  expect(l.run.max).toBeLessThan(20 * (1 + 1 / 16) + 15); // the bucket's width, plus a descheduled thread's slack
  expect(l.run.p50).toBeLessThan(5); // the two adds
  expect(l.wait.count).toBe(3);
  expect(l.wait.max).toBeGreaterThanOrEqual(19); // the adds waited for the spin on the only thread
  expect(l.run.meanMs).toBeGreaterThan(20 / 3 - 1);
});

test("a window resets without touching the totals; the Prometheus histogram counts every task", async () => {
  const tm = await m.start({ async: { io: { module: IO, worker_threads: 1 } } });
  const io = tm.async("io");
  await Promise.all(Array.from({ length: 40 }, (_, i) => io.run("timer", i % 4)));
  const first = io.metrics({ resetWindow: true });
  expect(first.latency.run.count).toBe(40);
  expect(first.latency.run.max).toBeGreaterThanOrEqual(3);
  expect(io.metrics().latency.run.count).toBe(0);
  await io.run("echo", 1);
  const after = io.metrics();
  expect(after.latency.run.count).toBe(1);
  expect(after.latency.run.max).toBeLessThan(first.latency.run.max);
  expect(after.latency.windowStart).toBeGreaterThanOrEqual(first.latency.windowStart);
  const h = after.histograms.run;
  expect(h.count).toBe(41);
  for (let i = 1; i < h.buckets.length; i++) expect(h.buckets[i]![1]).toBeGreaterThanOrEqual(h.buckets[i - 1]![1]);
  expect(h.buckets.at(-1)![1]).toBe(41);
  expect(h.sumSeconds).toBeGreaterThan(0.03); // 40 timers of 0-3 ms: 10 x (0+1+2+3) = 60 ms of timers
});

test("failed tasks and tasks whose result cannot be sent are timed too", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
  const cpu = tm.compute("cpu");
  await cpu.run("fail", "x").catch(() => {});
  await cpu.run("echo", 1);
  expect(tm.metrics().cpu!.latency.run.count).toBe(2);
});
