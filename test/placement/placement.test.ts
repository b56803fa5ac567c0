/**
 * Placement read back from the kernel (/proc/self/task/<tid>/status and stat, comm) for each core
 * allocation and each policy. Written for 2 cores; skips where fewer are allowed or off Linux.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { PlacementError, type ThreadManagerConfig } from "../../src/index.ts";
import { allowedCores } from "../../src/platform/cpus.ts";
import { readThread } from "../../src/platform/proc.ts";
import { IO, MATH, managers } from "../pools/helpers.ts";

const linux = process.platform === "linux";
const twoCores = linux && allowedCores().length >= 2;
const isRoot = linux && process.getuid?.() === 0;
const m = managers();
afterEach(() => m.closeAll());

/** Kernel view of every thread of pool `name`, by tm.threads() (itself read from /proc). */
async function poolThreads(config: ThreadManagerConfig, name: string) {
  const tm = await m.start(config);
  const threads = tm.threads().filter((t) => t.pool === name);
  for (const t of threads) {
    const k = readThread(t.tid)!; // tm.threads() and /proc agree
    expect({ cores: k.cores, policy: k.policy, nice: k.nice, priority: k.priority, name: k.name }).toEqual({
      cores: t.cores, policy: t.policy, nice: t.nice, priority: t.priority, name: t.name,
    });
  }
  return { tm, threads };
}

describe.skipIf(!twoCores)("core allocation", () => {
  test("OsDefault: every thread may run on every allowed core", async () => {
    const { threads } = await poolThreads({ compute: { cpu: { module: MATH, max_threads: 2 } } }, "cpu");
    expect(threads.map((t) => t.cores)).toEqual([allowedCores(), allowedCores()]);
  });

  test("PinnedCores: thread i on core min + i % n, more threads than cores is fine", async () => {
    const { threads } = await poolThreads(
      { compute: { cpu: { module: MATH, static_threads: 2, dynamic_threads: 1, max_threads: 3, core_allocation: { PinnedCores: { min: 0, max: 2 } } } } },
      "cpu",
    );
    expect(threads.map((t) => [t.name, t.cores])).toEqual([["cpu-s0", [0]], ["cpu-s1", [1]], ["cpu-d2", [0]]]);
  });

  test("DedicatedCoreSet: every thread on the whole set", async () => {
    const { threads } = await poolThreads(
      { async: { io: { module: IO, worker_threads: 2, core_allocation: { DedicatedCoreSet: { min: 1, max: 2 } } } } },
      "io",
    );
    expect(threads.map((t) => t.cores)).toEqual([[1], [1]]);
  });

  test("pinned threads still run tasks", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2, core_allocation: { PinnedCores: { min: 0, max: 2 } } } } });
    expect(await tm.compute("cpu").run("fib", 22)).toBe(17711);
  });
});

describe.skipIf(!linux)("policies and priorities", () => {
  test("OTHER with nice", async () => {
    const { threads } = await poolThreads({ compute: { cpu: { module: MATH, max_threads: 1, policy: "OTHER", nice: 5 } } }, "cpu");
    expect(threads.map((t) => [t.policy, t.nice])).toEqual([["OTHER", 5]]);
  });

  test("defaults: compute pools BATCH (a busy pool leaves the main thread responsive), async pools OTHER", async () => {
    const { threads } = await poolThreads({ compute: { cpu: { module: MATH, max_threads: 1 } } }, "cpu");
    expect(threads.map((t) => t.policy)).toEqual(["BATCH"]);
    const io = await poolThreads({ async: { io: { module: IO, worker_threads: 1 } } }, "io");
    expect(io.threads.map((t) => t.policy)).toEqual(["OTHER"]);
  });

  test("BATCH", async () => {
    const { threads } = await poolThreads({ compute: { cpu: { module: MATH, max_threads: 1, policy: "BATCH", nice: 3 } } }, "cpu");
    expect(threads.map((t) => [t.policy, t.nice])).toEqual([["BATCH", 3]]);
  });

  test("IDLE", async () => {
    const { threads } = await poolThreads({ compute: { cpu: { module: MATH, max_threads: 1, policy: "IDLE" } } }, "cpu");
    expect(threads.map((t) => t.policy)).toEqual(["IDLE"]);
  });

  test.skipIf(!isRoot)("FIFO and RR with a realtime priority (root; kept short and low)", async () => {
    const { tm, threads } = await poolThreads({
      compute: { rt: { module: MATH, max_threads: 1, policy: "FIFO", priority: 2 } },
      async: { rr: { module: IO, worker_threads: 1, policy: "RR", priority: 3 } },
    }, "rt");
    expect(threads.map((t) => [t.policy, t.priority])).toEqual([["FIFO", 2]]);
    const rr = tm.threads().filter((t) => t.pool === "rr");
    expect(rr.map((t) => [t.policy, t.priority])).toEqual([["RR", 3]]);
    expect(await tm.compute("rt").run("add", [1, 2])).toBe(3);
  });

  test.skipIf(!isRoot || !Bun.which("setpriv"))("without CAP_SYS_NICE, FIFO is a PlacementError naming the pool and how to grant it", () => {
    const script = `
      const { ThreadManager } = await import(${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)});
      try {
        await ThreadManager.start({ compute: { rt: { module: ${JSON.stringify(MATH.href)}, max_threads: 1, policy: "FIFO", priority: 5 } } });
        console.log("started");
      } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, pool: e.pool, errno: e.errno, message: e.message })); }`;
    const p = Bun.spawnSync(["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "bun", "-e", script]);
    const out = JSON.parse(p.stdout.toString().trim());
    expect(out.name).toBe("PlacementError");
    expect(out.code).toBe("ERR_PLACEMENT");
    expect(out.pool).toBe("rt");
    expect(out.errno).toBe("EPERM");
    expect(out.message).toContain("sched_setscheduler(FIFO, priority 5)");
    expect(out.message).toContain('setcap cap_sys_nice+ep "$(readlink -f "$(which bun)")"');
    expect(out.message).toContain("AmbientCapabilities=CAP_SYS_NICE");
    expect(out.message).toContain("LimitRTPRIO");
    expect(out.message).toContain("ulimit -r");
  });

  test("PlacementError is exported for callers to match on", () => {
    const e = new PlacementError("p", "p-0", "sched_setscheduler(RR, priority 1)", "EPERM");
    expect(e.message).toContain("CAP_SYS_NICE");
  });
});

describe.skipIf(!linux)("thread names", () => {
  test("every pool thread is named {pool}-{kind}{i} (s static, d dynamic), cut to 15 bytes keeping the index; a fixed pool {pool}-{i}", async () => {
    const tm = await m.start({
      compute: {
        cpu: { module: MATH, static_threads: 1, dynamic_threads: 1, max_threads: 2 },
        averyveryverylongpool: { module: MATH, max_threads: 1 },
        fixed: { module: MATH, max_threads: 2, scaler: { enabled: false } },
      },
    });
    const names = tm.threads().filter((t) => t.role === "static" || t.role === "dynamic").map((t) => t.name).sort();
    expect(names).toEqual(["averyveryver-s0", "cpu-d1", "cpu-s0", "fixed-0", "fixed-1"]);
    expect(tm.threads().filter((t) => t.role === "manager").map((t) => t.name)).toEqual(["pool-manager"]);
  });
});

/** Runs a script in a fresh process (the main thread and Bun's helpers are process-wide). */
function inFreshProcess(body: string): any {
  const script = `
    const { ThreadManager } = await import(${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)});
    const { readThread } = await import(${JSON.stringify(new URL("../../src/platform/proc.ts", import.meta.url).href)});
    ${body}`;
  const p = Bun.spawnSync(["bun", "-e", script], { timeout: 30_000 });
  if (p.exitCode !== 0) throw new Error(`child failed (${p.exitCode}): ${p.stderr.toString()}`);
  return JSON.parse(p.stdout.toString().trim().split("\n").pop()!);
}

describe.skipIf(!twoCores)("main and runtime threads", () => {
  test("the main thread goes to default_core_allocation and back at close", () => {
    const r = inFreshProcess(`
      const tm = await ThreadManager.start({ default_core_allocation: { DedicatedCoreSet: { min: 1, max: 2 } }, compute: { c: { module: ${JSON.stringify(MATH.href)}, max_threads: 1 } } });
      const main = tm.threads().find((t) => t.role === "main");
      const pool = tm.threads().find((t) => t.pool === "c");
      await tm.close();
      console.log(JSON.stringify({ during: main.cores, kernel: readThread(process.pid).cores, pool: pool.cores, after: readThread(process.pid).cores }));`);
    expect(r.during).toEqual([1]);
    expect(r.pool).toEqual([0]); // placed explicitly, not main's mask, and off main's dedicated core
    expect(r.after).toEqual([0, 1]);
  }, 40_000);

  test("a pool's DedicatedCoreSet is its own: the other pool, main and Bun's helpers are kept off it (read back from /proc)", () => {
    const r = inFreshProcess(`
      const tm = await ThreadManager.start({ compute: {
        mine: { module: ${JSON.stringify(MATH.href)}, max_threads: 1, core_allocation: { DedicatedCoreSet: { min: 1, max: 2 } } },
        other: { module: ${JSON.stringify(MATH.href)}, max_threads: 2 },
      } });
      await Bun.file("/etc/hostname").text();
      const threads = tm.threads();
      const status = (tid) => require("node:fs").readFileSync("/proc/self/task/" + tid + "/status", "utf8").match(/Cpus_allowed_list:\\s*(\\S+)/)[1];
      const out = threads.map((t) => ({ pool: t.pool, role: t.role, cores: status(t.tid), state: t.state, parked: t.parked }));
      await tm.close();
      console.log(JSON.stringify(out));`);
    const by = (pool: string) => r.filter((t: { pool: string }) => t.pool === pool);
    expect(by("mine").map((t: { cores: string }) => t.cores)).toEqual(["1"]);
    expect(by("other").map((t: { cores: string }) => t.cores)).toEqual(["0", "0"]);
    expect(by("(main)").map((t: { cores: string }) => t.cores)).toEqual(["0"]);
    expect(by("(runtime)").length).toBeGreaterThan(0);
    for (const t of by("(runtime)")) expect(t.cores).toBe("0");
    for (const t of r) expect(t.state).toMatch(/^[RSDTtXZIP]$/); // the kernel's letter
    expect(by("other").map((t: { role: string }) => t.role)).toEqual(["static", "dynamic"]);
    expect(by("other").every((t: { parked: boolean }) => typeof t.parked === "boolean")).toBe(true);
    expect(by("(manager)").map((t: { cores: string }) => t.cores)).toEqual(["0"]); // off the dedicated core too
  }, 40_000);

  test("Bun's helper threads go to [runtime], also ones that appear later", () => {
    const r = inFreshProcess(`
      const tm = await ThreadManager.start({ runtime: { core_allocation: { PinnedCores: { min: 0, max: 1 } } }, compute: { c: { module: ${JSON.stringify(MATH.href)}, max_threads: 1, core_allocation: { PinnedCores: { min: 1, max: 2 } } } } });
      const first = tm.threads().filter((t) => t.role === "runtime").map((t) => t.name);
      await fetch("http://127.0.0.1:9/").catch(() => {});           // starts the HTTP client thread
      await Bun.file("/etc/hostname").text().catch(() => {});        // and the file I/O pool
      let later = [];
      for (let i = 0; i < 100 && !later.some((n) => n === "HTTP Client"); i++) {
        await Bun.sleep(50);
        later = tm.threads().filter((t) => t.role === "runtime").map((t) => t.name);
      }
      const runtime = tm.threads().filter((t) => t.role === "runtime");
      const pool = tm.threads().filter((t) => t.pool === "c");
      await tm.close();
      console.log(JSON.stringify({ first, later, cores: runtime.map((t) => t.cores), pool: pool.map((t) => t.cores) }));`);
    expect(r.first.length).toBeGreaterThan(0);
    expect(r.later).toContain("HTTP Client");
    expect(r.cores.every((c: number[]) => c.length === 1 && c[0] === 0)).toBe(true);
    expect(r.pool).toEqual([[1]]);
  }, 40_000);
});
