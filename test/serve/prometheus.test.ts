/** tm.prometheus() and the /metrics route: the text parses as Prometheus exposition and agrees with metrics(). */
import { afterEach, expect, test } from "bun:test";
// @ts-expect-error: the package ships no types
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { metricsHandler, poolHandler, registerPoolMetrics } from "../../src/serve.ts";
import { IO, MATH, managers } from "../pools/helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

type Family = { name: string; type: string; metrics: Array<{ value: string; labels: Record<string, string> }> };

test("the Prometheus text parses, and its counts match metrics()", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } }, async: { io: { module: IO, worker_threads: 1 } } });
  const cpu = tm.compute("cpu");
  await Promise.all(Array.from({ length: 50 }, (_, i) => cpu.run("add", [i, 1])));
  await cpu.run("fail", "x").catch(() => {});
  await tm.async("io").run("echo", 1);
  const server = Bun.serve({ port: 0, routes: { "/metrics": metricsHandler(tm), "/add": poolHandler(cpu, "add", () => [1, 2]) } });
  try {
    const r = await fetch(new URL("/metrics", server.url));
    expect(r.headers.get("Content-Type")).toContain("text/plain; version=0.0.4");
    const text = await r.text();
    const families = parsePrometheusTextFormat(text) as Family[];
    const value = (name: string, labels: Record<string, string>) => {
      const f = families.find((x) => x.name === name)!;
      const s = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))!;
      return Number(s.value);
    };
    const snap = tm.metrics();
    expect(families.find((f) => f.name === "btm_tasks_submitted_total")!.type).toBe("COUNTER");
    expect(value("btm_tasks_submitted_total", { pool: "cpu", kind: "compute" })).toBe(snap.cpu!.submitted);
    expect(value("btm_tasks_completed_total", { pool: "cpu" })).toBe(snap.cpu!.completed);
    expect(value("btm_tasks_failed_total", { pool: "cpu" })).toBe(1);
    expect(value("btm_tasks_completed_total", { pool: "io", kind: "async" })).toBe(1);
    const live = families.find((f) => f.name === "btm_threads")!.metrics.filter((s) => s.labels.pool === "cpu");
    expect(live.reduce((n, s) => n + Number(s.value), 0)).toBe(2); // static 1 + dynamic 1, by role and status
    expect(new Set(live.map((s) => s.labels.role))).toEqual(new Set(["static", "dynamic", "standalone"]));
    expect(value("btm_standalone_spawned_total", { pool: "cpu" })).toBe(snap.cpu!.scaler!.spawned);
    // Histograms: every finished task once, buckets cumulative up to +Inf = count, per pool.
    // (parse-prometheus-text-format folds labelled histograms into one and keeps _sum/_count only
    // unlabelled, so the type comes from it and the per-pool lines are read from the text.)
    expect(families.find((f) => f.name === "btm_task_run_seconds")!.type).toBe("HISTOGRAM");
    expect(families.find((f) => f.name === "btm_task_wait_seconds")!.type).toBe("HISTOGRAM");
    const line = (name: string, pool: string, le?: string) => {
      const re = new RegExp(`^${name}\\{pool="${pool}",kind="\\w+"${le ? `,le="${le.replace("+", "\\+")}"` : ""}\\} (\\S+)$`, "m");
      return Number(re.exec(text)![1]);
    };
    expect(line("btm_task_run_seconds_count", "cpu")).toBe(snap.cpu!.completed + snap.cpu!.failed);
    expect(line("btm_task_run_seconds_bucket", "cpu", "+Inf")).toBe(snap.cpu!.completed + snap.cpu!.failed);
    expect(line("btm_task_run_seconds_sum", "cpu")).toBeCloseTo(snap.cpu!.histograms.run.sumSeconds, 6);
    expect(line("btm_task_wait_seconds_count", "io")).toBe(1);
    // Every managed thread once, with its cores, as tm.threads() has it.
    const info = families.find((f) => f.name === "btm_thread_info")!.metrics;
    expect(info.length).toBe(tm.threads().length);
    const s0 = info.find((s) => s.labels.thread === "cpu-s0")!;
    expect(s0.labels.role).toBe("static");
    expect(Number(s0.labels.tid)).toBe(tm.threads().find((t) => t.name === "cpu-s0")!.tid);
  } finally {
    server.stop(true);
  }
});

test("registerPoolMetrics puts the pools into an app's prom-client registry, read at each scrape", async () => {
  const client = await import("prom-client");
  const registry = new client.Registry();
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
  const names = registerPoolMetrics(client, tm, { registers: [registry] });
  expect(names).toContain("btm_tasks_completed_total");
  await Promise.all(Array.from({ length: 7 }, (_, i) => tm.compute("cpu").run("add", [i, i])));
  const families = parsePrometheusTextFormat(await registry.metrics()) as Family[];
  const completed = families.find((f) => f.name === "btm_tasks_completed_total")!.metrics.find((s) => s.labels.pool === "cpu")!;
  expect(Number(completed.value)).toBe(7);
  await tm.compute("cpu").run("add", [1, 1]);
  const again = parsePrometheusTextFormat(await registry.metrics()) as Family[];
  expect(Number(again.find((f) => f.name === "btm_tasks_completed_total")!.metrics[0]!.value)).toBe(8);
  const run = again.find((f) => f.name === "btm_task_run_seconds")!;
  expect(run.type).toBe("HISTOGRAM");
  expect((await registry.metrics())).toMatch(/^btm_task_run_seconds_count\{pool="cpu",kind="compute"\} 8$/m);
});
