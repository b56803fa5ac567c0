/**
 * Property test of the payload path: random payload sizes from 0 B to 4 MiB (mostly small, some
 * huge) on a deliberately small arena (1 MiB that cannot grow), two producers on the main thread,
 * strings and byte arrays both ways. Every task must run exactly once (a shared counter per task)
 * and come back intact, with a deadline per round. Default: 2 rounds of 4000 tasks; STRESS=1: 1M.
 */
import { afterEach, expect, test } from "bun:test";
import { managers } from "./helpers.ts";

const PAYLOADS = new URL("../fixtures/payloads.ts", import.meta.url);
const TOTAL = process.env.STRESS ? 1_000_000 : 8_000;
const ROUND = process.env.STRESS ? 20_000 : 4_000;
const IN_FLIGHT = 64;
const m = managers();
afterEach(() => m.closeAll());

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 90% up to 1 KiB, 9% up to 64 KiB, 1% up to 4 MiB. */
function size(rand: () => number): number {
  const r = rand();
  const cap = r < 0.9 ? 1 << 10 : r < 0.99 ? 64 << 10 : 4 << 20;
  return Math.floor(rand() * (cap + 1));
}

function payload(rand: () => number, id: number): Uint8Array | string {
  const n = size(rand);
  if (rand() < 0.5) return String.fromCharCode(65 + (id % 26)).repeat(n >> 1) + (n % 3 === 0 ? "\ud83d" : "é");
  const u = new Uint8Array(n);
  for (let i = 0; i < n; i += 997) u[i] = (id + i) & 0xff;
  return u;
}

function same(a: Uint8Array | string, b: unknown): boolean {
  if (typeof a === "string") return a === b;
  return b instanceof Uint8Array && b.length === a.length && Buffer.compare(a, b) === 0;
}

test(`random payloads 0 B to 4 MiB on a 1 MiB arena, 2 producers, ${TOTAL} tasks: none lost, none run twice, no hang`, async () => {
  const tm = await m.start({ compute: { p: { module: PAYLOADS, max_threads: 2, arena_bytes: 1 << 20, arena_max_bytes: 1 << 20 } } });
  const pool = tm.compute("p");
  let bad = 0;
  for (let base = 0; base < TOTAL; base += ROUND) {
    const seen = new Int32Array(new SharedArrayBuffer(ROUND * 4));
    let next = 0;
    const producer = async (seed: number) => {
      const rand = mulberry32(seed);
      const lane: Promise<void>[] = [];
      const one = async (): Promise<void> => {
        while (next < ROUND) {
          const id = next++;
          const p = payload(rand, base + id);
          if (!same(p, await pool.run("stamp", [seen, id, p]))) bad++;
        }
      };
      for (let k = 0; k < IN_FLIGHT / 2; k++) lane.push(one());
      await Promise.all(lane);
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<string>((r) => (timer = setTimeout(() => r("hung"), process.env.STRESS ? 120_000 : 60_000)));
    const outcome = await Promise.race([Promise.all([producer(base + 1), producer(base + 2)]).then(() => "done"), hung]);
    clearTimeout(timer);
    expect(outcome).toBe("done");
    expect(bad).toBe(0);
    let once = 0;
    for (let i = 0; i < ROUND; i++) if (seen[i] === 1) once++;
    expect(once).toBe(ROUND); // every task ran, none twice
  }
  const metrics = pool.metrics();
  expect(metrics.completed).toBe(TOTAL);
  expect(metrics.arena.segments).toBe(1);
  expect(metrics.arena.argumentBytes).toBe(0);
  expect(metrics.threads.reduce((n, t) => n + t.executed, 0)).toBe(TOTAL);
}, process.env.STRESS ? 3_600_000 : 120_000);
