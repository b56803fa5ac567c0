/** Async pools with `serve`: one Bun.serve per pool thread on a shared port (reusePort). */
import { afterEach, expect, test } from "bun:test";
import { ConfigError, ServeError, ThreadManager } from "../../src/index.ts";
import { readdirSync, readFileSync } from "node:fs";
import { CORES, IO, managers, rejection, until } from "../pools/helpers.ts";

const m = managers();
afterEach(() => m.closeAll());
const SERVER = new URL("../fixtures/serve/server.ts", import.meta.url).href;
const NO_DEFAULT = new URL("../fixtures/serve/no-default.ts", import.meta.url).href;
const FIXED = new URL("../fixtures/serve/fixed-port.ts", import.meta.url).href;
const PORT_ZERO = new URL("../fixtures/serve/module-port-zero.ts", import.meta.url).href;
const NEVER = new URL("../fixtures/serve/never-settles.ts", import.meta.url).href;

/** New connection per request, so the kernel's reusePort hashing can pick any thread's socket. */
async function who(url: string): Promise<{ threadIndex: number; tid: number }> {
  const r = await fetch(new URL("/who", url), { headers: { Connection: "close" } });
  return (await r.json()) as { threadIndex: number; tid: number };
}

test.skipIf(CORES < 2)("reusePort servers on two pinned threads both answer, each from its own core", async () => {
  const tm = await m.start({
    async: { web: { serve: SERVER, port: 0, worker_threads: 2, core_allocation: { PinnedCores: { min: 0, max: 2 } } } },
  });
  const at = tm.async("web").server!;
  expect(at.port).toBeGreaterThan(0);
  const seen = new Map<number, number>();
  for (let i = 0; i < 200 && seen.size < 2; i++) {
    const { threadIndex, tid } = await who(at.url);
    seen.set(threadIndex, tid);
  }
  expect([...seen.keys()].sort()).toEqual([0, 1]);
  const threads = tm.threads().filter((t) => t.pool === "web");
  for (const [index, tid] of seen) {
    expect(tid).not.toBe(process.pid); // a pool thread, not main
    expect(threads.find((t) => t.tid === tid)!.cores).toEqual([index]); // PinnedCores: thread i on core i
  }
});

test("the servers keep a program that only starts them alive; closing the manager lets it exit", async () => {
  const app = Bun.spawn(["bun", new URL("../fixtures/serve/serve-only-app.ts", import.meta.url).pathname], { stdout: "pipe", stderr: "inherit" });
  const reader = app.stdout.getReader();
  const url = new TextDecoder().decode((await reader.read()).value).trim();
  await Bun.sleep(500); // nothing else keeps it alive
  expect(app.exitCode).toBeNull();
  expect((await who(url)).threadIndex).toBe(0);
  app.kill("SIGTERM");
  expect(await app.exited).toBe(0);
  expect(new TextDecoder().decode((await reader.read()).value)).toContain("closed");
});

test("close lets an in-flight request finish, then nothing listens", async () => {
  const tm = await ThreadManager.start({ async: { web: { serve: SERVER, port: 0, worker_threads: 1 } } });
  const { url } = tm.async("web").server!;
  const slow = fetch(new URL("/slow", url));
  await Bun.sleep(50); // the request is in the handler's sleep
  await tm.close({ timeoutMs: 3000 });
  const r = await slow;
  expect(r.status).toBe(200);
  expect(await r.text()).toBe("done");
  expect(await rejection(fetch(new URL("/who", url)))).toBeTruthy(); // connection refused
});

test("a handler that throws is the server's 500; the thread serves on", async () => {
  const tm = await m.start({ async: { web: { serve: SERVER, port: 0, worker_threads: 1 } } });
  const { url } = tm.async("web").server!;
  const r = await fetch(new URL("/throw", url));
  expect(r.status).toBe(500);
  expect(await r.text()).toBe("internal error");
  expect((await who(url)).threadIndex).toBe(0);
  expect(tm.metrics().web!.threads[0]!.alive).toBe(true);
});

test("a serving thread that dies is replaced, and the replacement serves on the same port", async () => {
  const tm = await m.start({ async: { web: { serve: SERVER, port: 0, worker_threads: 1 } } });
  const { url } = tm.async("web").server!;
  const first = (await who(url)).tid;
  // The thread exits mid-request: the client sees the connection closed, not a 200 from Bun's
  // fallback ("Welcome to Bun!") for a handler that never answered.
  const dying = await fetch(new URL("/exit", url)).then((r) => `answered ${r.status}`, (e: Error) => e.message);
  expect(dying).toMatch(/ECONNRESET|closed/i);
  let again: { tid: number } | undefined;
  await until(() => tm.threads().some((t) => t.pool === "web" && t.tid !== first), 10_000, "a replacement thread");
  for (let i = 0; i < 100 && !again; i++) again = await who(url).catch(() => undefined) ?? (await Bun.sleep(20), undefined);
  expect(again!.tid).not.toBe(first);
  expect(tm.async("web").server!.port).toBe(Number(new URL(url).port));
  expect(tm.metrics().web!.deaths).toBe(1); // counted (and logged), not only replaced
  expect(tm.prometheus()).toContain('btm_thread_deaths_total{pool="web",kind="async"} 1');
});

test("one thread may take the module's own port 0", async () => {
  const tm = await m.start({ async: { web: { serve: PORT_ZERO, worker_threads: 1 } } });
  expect(await (await fetch(tm.async("web").server!.url)).text()).toBe("zero");
});

test("a pool can serve and run tasks: module and serve together", async () => {
  const tm = await m.start({ async: { web: { module: IO, serve: SERVER, port: 0, worker_threads: 1 } } });
  expect(await tm.async("web").run("echo", 5)).toBe(5);
  expect((await who(tm.async("web").server!.url)).threadIndex).toBe(0);
});

test("bad serve modules and taken ports: ServeError naming the pool and the module; no thread is left", async () => {
  const e1 = await rejection(ThreadManager.start({ compute: { cpu: { module: new URL("../fixtures/math.ts", import.meta.url).href, max_threads: 1 } }, async: { web: { serve: NO_DEFAULT, worker_threads: 1 } } }));
  expect(e1).toBeInstanceOf(ServeError);
  expect(e1.code).toBe("ERR_SERVE");
  expect(e1.pool).toBe("web");
  expect(e1.module).toBe(NO_DEFAULT);
  expect(e1.message).toContain('pool "web"');
  expect(e1.message).toContain("no default export");
  const taken = Bun.serve({ port: 0, fetch: () => new Response("main") }); // no reusePort
  try {
    const e2 = await rejection(ThreadManager.start({ async: { web: { serve: FIXED, port: taken.port, worker_threads: 1 } } }));
    expect(e2).toBeInstanceOf(ServeError);
    expect(e2.message).toContain(`port ${taken.port}`);
    expect(e2.message).toContain("SO_REUSEPORT");
  } finally {
    taken.stop(true);
  }
  const e3 = await rejection(ThreadManager.start({ async: { web: { serve: PORT_ZERO, worker_threads: 2 } } }));
  expect(e3).toBeInstanceOf(ServeError);
  expect(e3.message).toContain("set port = 0 in the pool's config");
  const e4 = await rejection(ThreadManager.start({ async: { web: { serve: NEVER, worker_threads: 1 } } }));
  expect(e4).toBeInstanceOf(ServeError);
  expect(e4.module).toBe(NEVER);
  expect(e4.message).toContain("never settle");
  // (Bun's own helper threads come and go: count the pools' named threads, not all of them.)
  const poolThreads = () => readdirSync("/proc/self/task").filter((t) => /^(web|cpu)-/.test(readFileSync(`/proc/self/task/${t}/comm`, "utf8"))).length;
  await until(() => poolThreads() === 0, 5000, "the failed pools' threads to exit");
});

test("config: serve with scaling keys, port without serve, a missing serve module", async () => {
  const cases: Array<[object, string]> = [
    [{ async: { web: { serve: SERVER, max_threads: 2 } } }, "async.web.max_threads"],
    [{ async: { web: { module: IO, port: 8080 } } }, "async.web.port"],
    [{ async: { web: { serve: "./nope.ts" } } }, "async.web.serve"],
    [{ async: { web: { serve: SERVER, port: 70000 } } }, "async.web.port"],
    [{ async: { web: { serve: SERVER, port: 18080 }, api: { serve: SERVER, port: 18080 } } }, "async.api.port"],
  ];
  for (const [config, path] of cases) {
    const e = await rejection(ThreadManager.start(config as never));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.path).toBe(path);
  }
});

test("a pool that only serves (no module) keeps a small arena, not the 8 MiB a task pool gets", async () => {
  const tm = await m.start({ async: { web: { serve: SERVER, port: 0, worker_threads: 1 } } });
  expect(tm.async("web").metrics().arena.bytes).toBeLessThanOrEqual(64 << 10);
  expect((await fetch(new URL("/who", tm.async("web").server!.url))).status).toBe(200);
});

test("a port another process listens on is refused (a stale copy of the app), naming it; share_port = true allows a rolling restart", async () => {
  const other = Bun.spawn(["bun", "-e", "const s = Bun.serve({ port: 0, reusePort: true, fetch: () => new Response('old') }); console.log(s.port); setTimeout(() => {}, 60_000);"], { stdout: "pipe" });
  try {
    const reader = other.stdout.getReader();
    const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    expect(port).toBeGreaterThan(0);
    const e = await rejection(m.start({ async: { web: { serve: SERVER, port, worker_threads: 1 } } }));
    expect(e).toBeInstanceOf(ServeError);
    expect(e.message).toContain(`port ${port} is already listened on by pid ${other.pid}`);
    expect(e.message).toContain("share_port = true");
    const tm = await m.start({ async: { web: { serve: SERVER, port, worker_threads: 1, share_port: true } } });
    expect(tm.async("web").server!.port).toBe(port);
  } finally {
    other.kill();
    await other.exited;
  }
});
