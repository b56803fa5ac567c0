/** `bun-thread-manager top`: the frame from fixtures, and the live command against a real /metrics endpoint. */
import { afterEach, expect, test } from "bun:test";
import { metricsHandler } from "../../src/serve.ts";
import { poolRows, quantile, renderFrame, scrape, threadsByCore, trafficLines } from "../../src/top/top-view.ts";
import { MATH, managers } from "../pools/helpers.ts";

const m = managers();
afterEach(() => m.closeAll());
const CLI = new URL("../../src/cli.ts", import.meta.url).pathname;

const fixture = (completed: number, buckets: number[], queue: number) => `# TYPE btm_tasks_submitted_total counter
btm_tasks_submitted_total{pool="cpu",kind="compute"} ${completed + queue}
btm_tasks_completed_total{pool="cpu",kind="compute"} ${completed}
btm_tasks_failed_total{pool="cpu",kind="compute"} 0
btm_tasks_pending{pool="cpu",kind="compute"} ${queue}
btm_queue_depth{pool="cpu",kind="compute"} ${queue}
btm_threads{pool="cpu",kind="compute",role="static",status="running"} 1
btm_threads{pool="cpu",kind="compute",role="dynamic",status="parked"} 1
btm_task_run_seconds_bucket{pool="cpu",kind="compute",le="0.001"} ${buckets[0]}
btm_task_run_seconds_bucket{pool="cpu",kind="compute",le="0.002"} ${buckets[1]}
btm_task_run_seconds_bucket{pool="cpu",kind="compute",le="+Inf"} ${buckets[1]}
btm_task_run_seconds_sum{pool="cpu",kind="compute"} ${completed * 0.0015}
btm_tasks_rejected_total{pool="cpu",kind="compute",reason="busy"} ${queue}
btm_tasks_rejected_total{pool="cpu",kind="compute",reason="closed"} 0
btm_scaler_rate{pool="cpu",kind="compute"} 1.5
btm_scaler_ema{pool="cpu",kind="compute"} 1.25
btm_scaler_ticks_total{pool="cpu",kind="compute",case="rising"} 40
btm_thread_info{pool="cpu",role="static",thread="cpu-s0",tid="11",cores="0",policy="BATCH",status="running"} 1
btm_thread_info{pool="cpu",role="dynamic",thread="cpu-d1",tid="12",cores="1",policy="BATCH",status="parked"} 1
btm_thread_info{pool="(main)",role="main",thread="bun",tid="10",cores="0-1",policy="OTHER",status="running"} 1
`;

test("where tasks come from: tasks per second per submitting thread; what serving pools answer", () => {
  const text = (web0: number, main: number, requests: number, errors: number) => `btm_submitter_tasks_total{pool="cpu",kind="compute",submitter="main"} ${main}
btm_submitter_tasks_total{pool="cpu",kind="compute",submitter="web-0"} ${web0}
btm_requests_total{pool="web",kind="async"} ${requests}
btm_request_errors_total{pool="web",kind="async"} ${errors}
btm_request_duration_seconds_bucket{pool="web",kind="async",le="0.001"} ${requests}
btm_request_duration_seconds_bucket{pool="web",kind="async",le="+Inf"} ${requests}
`;
  const before = scrape(text(1000, 50, 1000, 1), 0);
  const now = scrape(text(3400, 50, 3400, 3), 2000);
  expect(trafficLines(now, before)).toEqual(["  cpu <- main 0/s, web-0 1.2k/s", "  web: 1.2k req/s, p50/p99 0.500/0.990 ms, 5xx 1/s"]);
  expect(renderFrame("http://x/metrics", now, before)).toContain("where tasks come from");
});

test("rates and percentiles come from the difference of two scrapes", () => {
  const before = scrape(fixture(100, [50, 100], 0), 0);
  const now = scrape(fixture(300, [50, 300], 7), 2000); // 200 more tasks in 2 s, all between 1 and 2 ms
  const [row] = poolRows(now, before);
  expect(row!.pool).toBe("cpu");
  expect(row!.donePerSec).toBe(100);
  expect(row!.queue).toBe(7);
  expect(row!.threads).toBe("s1/0 d0/1");
  expect(row!.busy).toBeCloseTo(0.075, 6); // 200 tasks of 1.5 ms in 2 s on 2 live threads: a rate, not a snapshot
  expect(row!.shedPerSec).toBe(3.5);
  expect(row!.run[0]).toBeCloseTo(1.5, 6); // the median of 200 samples spread over (1, 2] ms
  expect(quantile(now, undefined, "btm_task_run_seconds", "cpu", 0.5)).toBeCloseTo(1.4, 6); // since start: 50 below 1 ms, 250 in (1, 2]: rank 150 is 100/250 into (1, 2]
  expect(row!.scaler).toBe("1.50/ms ema 1.25 rising");
  expect([...threadsByCore(now).keys()]).toEqual(["0", "0-1", "1"]);
  const frame = renderFrame("http://x/metrics", now, before);
  expect(frame).toContain("cpu-d1 (dynamic, parked)");
  expect(frame).toContain("(q: quit)");
  expect(renderFrame("http://x/metrics", now, before, Infinity, false)).not.toContain("q: quit"); // --once
  expect(frame).toMatch(/cpu\s+compute\s+s1\/0 d0\/1\s+8%\s+7\s+7\s+100\s+0\s+4/);
  // 80 columns: the pool table leaves out whole columns instead of wrapping rows mid-cell.
  const eighty = renderFrame("http://x/metrics", now, before, 80).split("\n");
  const tableRows = eighty.filter((l) => l.startsWith("pool ") || l.startsWith("cpu "));
  expect(tableRows.length).toBe(2);
  for (const l of tableRows) expect(l.length).toBeLessThanOrEqual(80);
  expect(tableRows[0]).toContain("busy");
  expect(tableRows[0]).not.toContain("wait p50/p99");
  // A narrow terminal wraps the thread lists; nothing is cut.
  const narrow = renderFrame("http://x/metrics", now, before, 30);
  expect(narrow).toContain("cpu-s0 (static)");
  expect(narrow).toContain("bun (main)");
});

test("a counter that went down (the process restarted) counts from zero, never a negative rate", () => {
  const before = scrape(fixture(5000, [2000, 5000], 0), 0);
  const now = scrape(fixture(300, [50, 300], 0), 1000);
  const [row] = poolRows(now, before);
  expect(row!.donePerSec).toBe(300);
  expect(row!.run[1]).toBeGreaterThan(0);
});

test("top --once and the live view against a real /metrics endpoint; q quits", async () => {
  const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
  await Promise.all(Array.from({ length: 20 }, (_, i) => tm.compute("cpu").run("add", [i, i])));
  const server = Bun.serve({ port: 0, routes: { "/metrics": metricsHandler(tm) } });
  try {
    const url = new URL("/metrics", server.url).href;
    const once = Bun.spawn(["bun", CLI, "top", url, "--once", "--interval", "200"], { stdout: "pipe", stderr: "pipe" });
    const text = await new Response(once.stdout).text();
    expect(await once.exited).toBe(0);
    expect(text).toMatch(/^cpu\s+compute/m);
    expect(text).toContain("rates over");
    expect(text).toContain("cpu-s0 (static");
    expect(text).toContain("pool-manager (manager)");
    const live = Bun.spawn(["bun", CLI, "top", url, "--interval", "200"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const frames: string[] = [];
    const reader = (async () => {
      for await (const chunk of live.stdout) frames.push(new TextDecoder().decode(chunk));
    })();
    const end = performance.now() + 10_000;
    while (!frames.join("").includes("rates over") && performance.now() < end) await Bun.sleep(50);
    expect(frames.join("")).toContain("rates over");
    live.stdin.write("q");
    live.stdin.flush();
    expect(await live.exited).toBe(0);
    await reader;
  } finally {
    server.stop(true);
  }
});

test("top with a bad url or no url: a clear message and a non-zero exit", async () => {
  const none = Bun.spawnSync(["bun", CLI, "top"]);
  expect(none.exitCode).toBe(2);
  expect(none.stderr.toString()).toContain("usage: bun-thread-manager top <metrics url>");
  const refused = Bun.spawnSync(["bun", CLI, "top", "http://127.0.0.1:9/metrics", "--once"]);
  expect(refused.exitCode).toBe(1);
  expect(refused.stderr.toString()).toContain("top: cannot read http://127.0.0.1:9/metrics");
  const html = Bun.serve({ port: 0, fetch: () => new Response("<html>hi</html>", { headers: { "Content-Type": "text/html" } }) });
  try {
    const notOurs = Bun.spawn(["bun", CLI, "top", html.url.href, "--once"], { stderr: "pipe" }); // not spawnSync: this process serves the page
    expect(await notOurs.exited).toBe(1);
    expect(await new Response(notOurs.stderr).text()).toContain("has no bun-thread-manager metrics");
  } finally {
    html.stop(true);
  }
  const bare = Bun.spawnSync(["bun", CLI, "top", "localhost:3000", "--once"]);
  expect(bare.exitCode).toBe(2);
  expect(bare.stderr.toString()).toContain("http://localhost:3000/metrics");
  const help = Bun.spawnSync(["bun", CLI, "top", "--help"]);
  expect(help.exitCode).toBe(0);
});
