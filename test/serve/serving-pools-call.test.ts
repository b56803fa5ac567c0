/** Servers on pool threads hand CPU work to a compute pool: ServeContext.pools, pool: imports. */
import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
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
