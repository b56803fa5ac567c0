/**
 * Runs stress roles on real Bun Workers (test/fixtures/shm-stress-worker.ts) and counts, per item,
 * how many times it was taken: lost = never, duplicated = more than once.
 */
import { CTL_START, CTL_WORDS } from "../fixtures/stress-common.ts";

export const STRESS = process.env.STRESS === "1";
/** Picks the quick count for the default run, the large one under STRESS=1. */
export const scale = (quick: number, stress: number) => (STRESS ? stress : quick);

const WORKER_URL = new URL("../fixtures/shm-stress-worker.ts", import.meta.url);

export interface RoleSpec {
  role: string;
  [k: string]: unknown;
}

export interface StressOutcome {
  results: Array<Record<string, any>>;
  lost: number;
  duplicated: number;
  corrupt: number;
  taken: number;
}

/**
 * Starts one Worker per spec, releases them together, runs `drive` on the main thread meanwhile,
 * and waits for every worker's stats (or fails after `timeoutMs`). Always terminates the workers.
 */
export async function runRoles(
  total: number,
  specs: RoleSpec[],
  options: { timeoutMs: number; drive?: (ctl: Int32Array) => Promise<void> | void; seed?: number },
): Promise<StressOutcome> {
  const ctlBuf = new SharedArrayBuffer(CTL_WORDS * 4);
  const marksBuf = new SharedArrayBuffer(total);
  const ctl = new Int32Array(ctlBuf);
  const workers = specs.map(() => new Worker(WORKER_URL));
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const done = workers.map(
      (w, i) =>
        new Promise<Record<string, any>>((resolve, reject) => {
          w.onmessage = (e) => (e.data.ok ? resolve(e.data) : reject(new Error(`${specs[i]!.role}: ${e.data.error}`)));
          w.onerror = (e) => reject(new Error(`${specs[i]!.role} crashed: ${e.message}`));
        }),
    );
    specs.forEach((spec, i) =>
      workers[i]!.postMessage({ ctl: ctlBuf, marks: marksBuf, total, seed: (options.seed ?? 1) * 7919 + i, ...spec }),
    );
    Atomics.store(ctl, CTL_START, 1);
    Atomics.notify(ctl, CTL_START);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`stress run did not finish within ${options.timeoutMs} ms`)), options.timeoutMs);
    });
    const results = await Promise.race([
      Promise.all([Promise.resolve(options.drive?.(ctl)), ...done]).then(([, ...r]) => r),
      timeout,
    ]);
    return { results, ...countMarks(new Uint8Array(marksBuf)), ...sumStats(results) };
  } finally {
    clearTimeout(timer);
    for (const w of workers) w.terminate();
  }
}

function countMarks(marks: Uint8Array): { lost: number; duplicated: number } {
  let lost = 0;
  let duplicated = 0;
  for (let i = 0; i < marks.length; i++) {
    const m = marks[i]!;
    if (m === 0) lost++;
    else if (m > 1) duplicated++;
  }
  return { lost, duplicated };
}

function sumStats(results: Array<Record<string, any>>): { corrupt: number; taken: number } {
  return {
    corrupt: results.reduce((n, r) => n + r.corrupt, 0),
    taken: results.reduce((n, r) => n + r.taken, 0),
  };
}

/** Blocks the main thread until ctl[index] >= value or the deadline passes; returns whether it got there. */
export function waitAtLeast(ctl: Int32Array, index: number, value: number, deadlineMs: number, spinMs = 0): boolean {
  const until = performance.now() + deadlineMs;
  const spinUntil = performance.now() + spinMs;
  // Spinning first lets the caller react within ~100 ns of the worker's store (lost-wake-up test).
  while (performance.now() < spinUntil) if (Atomics.load(ctl, index) >= value) return true;
  for (;;) {
    const v = Atomics.load(ctl, index);
    if (v >= value) return true;
    const left = until - performance.now();
    if (left <= 0) return false;
    Atomics.wait(ctl, index, v, left);
  }
}
