/** Bun.serve on pools (bun-thread-manager/serve): real servers on port 0, real pool threads. */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { poolHandler } from "../../src/serve.ts";
import { IO, MATH, managers, rejection, until } from "../pools/helpers.ts";

const SCALING = new URL("../fixtures/scaling.ts", import.meta.url);
const m = managers();
const servers: Array<ReturnType<typeof Bun.serve>> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) s.stop(true);
  await m.closeAll();
});

function serve(routes: Record<string, (req: Request) => Promise<Response>>) {
  const server = Bun.serve({ port: 0, routes });
  servers.push(server);
  return (path: string, init?: RequestInit) => fetch(new URL(path, server.url), init);
}

describe("poolHandler", () => {
  test("runs the handler with the argument from the request; strings as text, objects as JSON, undefined as 204", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const get = serve({
      "/add": poolHandler(tm.compute("cpu"), "add", async (req) => (await req.json()) as [number, number]),
      "/echo": poolHandler(tm.compute("cpu"), "echo", (req) => new URL(req.url).searchParams.get("v")),
      "/obj": poolHandler({ manager: tm, pool: "cpu" }, "echo", () => ({ a: 1 })),
      "/none": poolHandler(tm.compute("cpu"), "echo"),
    });
    const add = await get("/add", { method: "POST", body: "[2, 3]" });
    expect([add.status, await add.text()]).toEqual([200, "5"]);
    expect(await (await get("/echo?v=hi")).text()).toBe("hi");
    expect(await (await get("/obj")).json()).toEqual({ a: 1 });
    expect((await get("/none")).status).toBe(204);
  });

  test("overload: past max_queue the answer is 503 with Retry-After, not a pile-up", async () => {
    const tm = await m.start({ compute: { cpu: { module: SCALING, static_threads: 1, max_threads: 1, max_queue: 2, scaler: { enabled: false } } } });
    const get = serve({ "/block": poolHandler(tm.compute("cpu"), "block", () => 200, { retryAfter: 2 }) });
    const answers = await Promise.all(Array.from({ length: 8 }, () => get("/block")));
    const busy = answers.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
    for (const r of busy) expect(r.headers.get("Retry-After")).toBe("2");
  });

  test("a handler that throws: 500 with a generic body, the stack only in the server's log", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const errors = spyOn(console, "error").mockImplementation(() => {});
    try {
      const get = serve({ "/fail": poolHandler(tm.compute("cpu"), "fail", () => "secret detail") });
      const r = await get("/fail");
      const body = await r.text();
      expect(r.status).toBe(500);
      expect(body).toBe("Internal Server Error");
      expect(body).not.toContain("secret detail");
      const logged = errors.mock.calls.map((c) => c.map((x) => (x instanceof Error ? `${x.message}\n${x.stack}` : String(x))).join(" ")).join("\n");
      expect(logged).toContain('handler "fail" of pool "cpu" failed');
      expect(logged).toContain("secret detail");
      expect(errors.mock.calls).toHaveLength(1); // one line per failed request,
      expect(errors.mock.calls[0]!.some((x) => x instanceof Error)).toBe(false); // as text: an Error object prints its cause's stack a second time
    } finally {
      errors.mockRestore();
    }
  });

  test("a client that disconnects aborts its task: the async handler sees ctx.signal fire", async () => {
    const tm = await m.start({ async: { io: { module: IO, worker_threads: 1 } } });
    const flags = new Int32Array(new SharedArrayBuffer(4));
    const get = serve({ "/wait": poolHandler(tm.async("io"), "waitForAbort", () => flags) });
    const client = new AbortController();
    const pending = get("/wait", { signal: client.signal }).catch((e) => e);
    await until(() => tm.async("io").metrics().threads[0]!.running === 1, 5000, "the task to start");
    client.abort();
    expect(await pending).toBeInstanceOf(Error); // the client gave up
    await until(() => Atomics.load(flags, 0) === 1, 5000, "the handler to see ctx.signal fire");
    await until(() => tm.async("io").metrics().pending === 0, 5000, "the task to end");
    expect(tm.async("io").metrics().cancelled + tm.async("io").metrics().completed).toBeGreaterThanOrEqual(1);
  });

  test("a malformed request never reaches a pool thread: the arg function's error is a 400; an unsendable argument too", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const get = serve({
      "/json": poolHandler(tm.compute("cpu"), "echo", async (req) => await req.json()),
      "/fn": poolHandler(tm.compute("cpu"), "echo", () => ({ f() {} })),
    });
    const bad = await get("/json", { method: "POST", body: "{not json" });
    expect(bad.status).toBe(400);
    expect((await get("/fn")).status).toBe(400);
    expect(tm.compute("cpu").metrics().submitted).toBe(0);
    expect(tm.compute("cpu").metrics().threads[0]!.faults).toBe(0);
    expect(await (await get("/json", { method: "POST", body: '{"ok":true}' })).json()).toEqual({ ok: true });
  });

  test("no server detail reaches the client: an arg function's message is logged, not sent; results that cannot be sent are 500s", async () => {
    const PAYLOADS = new URL("../fixtures/payloads.ts", import.meta.url).href;
    const tm = await m.start({ compute: { cpu: { module: PAYLOADS, max_threads: 1, max_payload_bytes: 65536 } } });
    const logged: unknown[][] = [];
    const spy = spyOn(console, "error").mockImplementation((...a: unknown[]) => void logged.push(a));
    try {
      const get = serve({
        "/secret": poolHandler(tm.compute("cpu"), "echo", () => {
          throw new Error("connect postgres://admin:hunter2@db failed");
        }),
        "/unsendable": poolHandler(tm.compute("cpu"), "unsendable"),
        "/big": poolHandler(tm.compute("cpu"), "makeBytes", () => 100_000),
        "/bigArg": poolHandler(tm.compute("cpu"), "echo", () => "x".repeat(100_000)),
      });
      const secret = await get("/secret");
      expect(secret.status).toBe(400);
      const body = await secret.text();
      expect(body).not.toContain("hunter2");
      expect(body).not.toContain("postgres");
      expect(logged.flat().map((x) => (x instanceof Error ? x.message : String(x))).join(" ")).toContain("hunter2"); // the server's log has it
      for (const path of ["/unsendable", "/big"]) {
        const r = await get(path);
        expect(r.status).toBe(500); // the handler's result: the server's fault
        const text = await r.text();
        expect(text).toBe("Internal Server Error");
      }
      const big = await get("/bigArg");
      expect(big.status).toBe(413); // the client's argument: its own fault, and it can act on it
      expect(await big.text()).not.toContain("echo");
    } finally {
      spy.mockRestore();
    }
  });

  test("a result over max_payload_bytes rejects with the real size and limit", async () => {
    const PAYLOADS = new URL("../fixtures/payloads.ts", import.meta.url).href;
    const tm = await m.start({ compute: { cpu: { module: PAYLOADS, max_threads: 1, max_payload_bytes: 65536 } } });
    const e = await rejection(tm.compute("cpu").run("makeBytes", 100_000));
    expect(e.code).toBe("ERR_PAYLOAD_TOO_LARGE");
    expect(e.size).toBe(100_000);
    expect(e.limit).toBe(65536);
  });
});
