/** Servers on pool threads hand CPU work to a compute pool: ServeContext.pools, pool: imports. */
import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
// @ts-expect-error: the package ships no types
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { managers, until } from "../pools/helpers.ts";

const m = managers();
afterEach(() => m.closeAll());
const CROSS = new URL("../fixtures/cross-math.ts", import.meta.url).href;
const HASH_SERVER = new URL("../fixtures/serve/hash-server.ts", import.meta.url).href;
const IMPORT_SERVER = new URL("../fixtures/serve/import-server.ts", import.meta.url).href;
const NATIVE_CALLER = new URL("../fixtures/native-caller.ts", import.meta.url).href;

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

test("a serving pool's routes call the compute pool (poolHandler over pools.compute); every request answered right", async () => {
  const tm = await m.start({
    compute: { cpu: { module: CROSS, static_threads: 1, max_threads: 1 } },
    async: { web: { serve: HASH_SERVER, port: 0, worker_threads: 2 } },
  });
  const url = tm.async("web").server!.url;
  const bodies = Array.from({ length: 400 }, (_, i) => `body-${i}-${"x".repeat(i)}`);
  const answers = await Promise.all(bodies.map((b) => fetch(new URL("/hash", url), { method: "POST", body: b, headers: { Connection: "close" } }).then((r) => r.text())));
  answers.forEach((a, i) => expect(a).toBe(sha(bodies[i]!)));
  const fib = (await (await fetch(new URL("/fib?n=20", url))).json()) as { fib: number };
  expect(fib.fib).toBe(6765);
  const cpu = tm.compute("cpu").metrics();
  const fromServers = cpu.submitters.filter((s) => s.submitter.startsWith("web-"));
  expect(fromServers.reduce((n, s) => n + s.submitted, 0)).toBe(401); // none went through main
  expect(cpu.submitters.find((s) => s.submitter === "main")!.submitted).toBe(0);
  const web = tm.async("web").metrics();
  expect(web.requests!.count).toBe(401);
  expect(web.requests!.errors).toBe(0);
  expect(web.requests!.histogram.count).toBe(401);
  const text = tm.prometheus();
  const families = parsePrometheusTextFormat(text) as Array<{ name: string; type: string; metrics: Array<{ labels?: Record<string, string>; value?: string }> }>;
  const bySubmitter = families.find((f) => f.name === "btm_submitter_tasks_total")!.metrics.filter((x) => x.labels!.pool === "cpu");
  expect(bySubmitter.filter((x) => x.labels!.submitter.startsWith("web-")).reduce((n, x) => n + Number(x.value), 0)).toBe(401);
  expect(families.find((f) => f.name === "btm_requests_total")!.metrics.find((x) => x.labels!.pool === "web")!.value).toBe("401");
  expect(families.find((f) => f.name === "btm_request_duration_seconds")!.type).toBe("HISTOGRAM");
  // (the parser folds labelled histograms: the per-pool lines are read from the text)
  expect(/^btm_request_duration_seconds_count\{pool="web",kind="async"\} 401$/m.test(text)).toBe(true);
  expect(/^btm_request_duration_seconds_bucket\{pool="web",kind="async",le="\+Inf"\} 401$/m.test(text)).toBe(true);
});

test("import { sha256 } from \"pool:cpu\" works inside a serve module", async () => {
  const tm = await m.start({
    compute: { cpu: { module: CROSS, static_threads: 1, max_threads: 1 } },
    async: { web: { serve: IMPORT_SERVER, port: 0, worker_threads: 1 } },
  });
  const r = await fetch(new URL("/hash", tm.async("web").server!.url), { method: "POST", body: "hello" });
  expect(await r.text()).toBe(sha("hello"));
});

test("a native thread calls the compute pool through ctx.pools and pool: imports; its lane is reaped after it exits", async () => {
  const tm = await m.start({
    compute: { cpu: { module: CROSS, static_threads: 1, max_threads: 1 } },
    native: { bg: { max_threads: 2 } },
  });
  const t = tm.native("bg").spawn(NATIVE_CALLER, 500);
  expect(await t.exited).toBe(0);
  await until(() => tm.compute("cpu").metrics().lanes.held === 0, 5000, "the native thread's lane reaped");
  expect(tm.compute("cpu").metrics().fromThreads.completed).toBe(501);
});
