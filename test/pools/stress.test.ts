/**
 * Pools under load: 1M tasks (10M with STRESS=1) with 256+ in flight on two pools at once, every
 * result checked, each task executed exactly once (per-thread execution counters in shared
 * memory), and the same with a thread killed in the middle.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { WorkerCrashedError, type TaskPool } from "../../src/index.ts";
import { STRESS, scale } from "../shm/stress-harness.ts";
import { IO, MATH, managers } from "./helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

interface Tally {
  ok: number;
  wrong: number;
  crashed: number;
  other: number;
}

/** Keeps `window` tasks in flight until `total` were submitted; `crashAt` submits a thread-killing task instead. */
function drive(pool: TaskPool, handler: string, total: number, window: number, offset: number, crashAt = -1): Promise<Tally> {
  const t: Tally = { ok: 0, wrong: 0, crashed: 0, other: 0 };
  let next = 0;
  let settled = 0;
  return new Promise((resolve) => {
    const launch = (): void => {
      const i = next++;
      const p = i === crashAt ? pool.run(pool.kind === "compute" ? "crash" : "exitNow", 9) : pool.run(handler, [i, offset]);
      p.then(
        (v) => (v === i + offset || (Array.isArray(v) && v[0] === i && v[1] === offset) ? t.ok++ : t.wrong++),
        (e) => (e instanceof WorkerCrashedError ? t.crashed++ : t.other++),
      ).then(() => {
        if (++settled === total) resolve(t);
        else if (next < total) launch();
      });
    };
    for (let k = 0; k < window; k++) launch();
  });
}

function executed(pool: TaskPool): number {
  return pool.metrics().threads.reduce((n, th) => n + th.executed, 0);
}

describe("pool stress", () => {
  const total = scale(1_000_000, 10_000_000);
  const timeout = STRESS ? 1_800_000 : 240_000;

  test(`${total} tasks on a compute and an async pool at once, 256 in flight each`, async () => {
    const tm = await m.start({
      compute: { cpu: { module: MATH, max_threads: 2 } },
      async: { io: { module: IO, worker_threads: 2, concurrency: 64 } },
    });
    const cpu = tm.compute("cpu");
    const io = tm.async("io");
    const ioTotal = Math.floor(total / 10); // async tasks cost more per task; keep the test short
    const [a, b] = await Promise.all([drive(cpu, "add", total, 256, 3), drive(io, "echo", ioTotal, 256, 5)]);
    expect(a).toEqual({ ok: total, wrong: 0, crashed: 0, other: 0 });
    expect(b).toEqual({ ok: ioTotal, wrong: 0, crashed: 0, other: 0 });
    expect(executed(cpu)).toBe(total); // none ran twice
    expect(executed(io)).toBe(ioTotal);
    expect(cpu.pending + io.pending).toBe(0);
  }, timeout);

  test(`the same with a thread of each pool killed in the middle`, async () => {
    const tm = await m.start({
      compute: { cpu: { module: MATH, max_threads: 2 } },
      async: { io: { module: IO, worker_threads: 2, concurrency: 64 } },
    });
    const cpu = tm.compute("cpu");
    const io = tm.async("io");
    const n = Math.floor(total / 4);
    const ioN = Math.floor(total / 40);
    const [a, b] = await Promise.all([drive(cpu, "add", n, 256, 1, n >> 1), drive(io, "echo", ioN, 256, 2, ioN >> 1)]);
    // Compute threads run one task at a time: only the killer task dies with its thread.
    expect(a).toEqual({ ok: n - 1, wrong: 0, crashed: 1, other: 0 });
    // An async thread has up to 64 tasks in flight: those die with it; nothing else is lost.
    expect(b.wrong + b.other).toBe(0);
    expect(b.ok + b.crashed).toBe(ioN);
    expect(b.crashed).toBeGreaterThanOrEqual(1);
    expect(io.metrics().crashed).toBe(b.crashed);
    // Execution counters live in shared memory and survive the thread: every task ran exactly once,
    // the killer included; tasks queued behind the dead thread were run by the others.
    expect(executed(cpu)).toBe(n);
    expect(executed(io)).toBe(ioN);
  }, timeout);
});
