/**
 * The per-tick trace of one pool's scaler: a bounded ring in shared memory. The pool manager writes
 * one record a tick; the main thread reads the newest ones (metrics, plots) without a message.
 *
 * Layout: an Int32 header line (word 0: ticks written so far, stored after the record; words 1..6:
 * ticks per case), then `capacity` records of TRACE_FIELDS float64s. A reader takes the count,
 * copies records, and drops those the writer may have overwritten meanwhile: those older than
 * count-after - capacity, and the one the writer may be writing now (count-after - capacity + 1).
 * Concurrency contract: one writer (the pool manager), any number of readers.
 */
import type { ScalerCase, ScalerDecision, ScalerSample } from "./scaling-rule.ts";

export const TRACE_CAPACITY = 1024;
const HEADER_BYTES = 128;
const CASES: readonly ScalerCase[] = ["first", "rising", "falling", "steady", "hog", "starved"];

/** Threads of each kind in one tick, after the decision was carried out. */
export interface ThreadKinds {
  static: number;
  dynamicActive: number;
  dynamicParked: number;
  standalone: number;
}

/** One tick: when, what the manager saw, what it decided, the threads afterwards. */
export interface TraceRecord extends Omit<ScalerSample, "now">, ThreadKinds {
  /** Epoch ms (performance.timeOrigin + now: the same clock on every thread). */
  time: number;
  rate: number;
  prevEma: number;
  currEma: number;
  case: ScalerCase;
  wanted: number;
  unpark: number;
  spawn: number;
}

const FIELDS = [
  "time", "arrivals", "completions", "queueDepth", "active", "busy", "parkedDynamic", "total", "rate", "prevEma", "currEma",
  "case", "wanted", "unpark", "spawn", "static", "dynamicActive", "dynamicParked", "standalone",
] as const;
const STRIDE = 20; // >= FIELDS.length

export class ScalingTrace {
  readonly buffer: SharedArrayBuffer;
  private readonly count: Int32Array;
  private readonly byCase: Int32Array;
  private readonly f: Float64Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(HEADER_BYTES + TRACE_CAPACITY * STRIDE * 8);
    this.count = new Int32Array(this.buffer, 0, 1);
    this.byCase = new Int32Array(this.buffer, 4, CASES.length);
    this.f = new Float64Array(this.buffer, HEADER_BYTES);
  }

  /** Ticks written since the pool started. */
  get ticks(): number {
    return Atomics.load(this.count, 0);
  }

  /** Writer: one tick. */
  write(time: number, s: ScalerSample, d: ScalerDecision, kinds: ThreadKinds): void {
    const n = this.count[0]!;
    const at = (n % TRACE_CAPACITY) * STRIDE;
    const values: Record<(typeof FIELDS)[number], number> = {
      ...s, ...d, ...kinds, time, case: CASES.indexOf(d.case),
    };
    for (let i = 0; i < FIELDS.length; i++) this.f[at + i] = values[FIELDS[i]!];
    Atomics.add(this.byCase, CASES.indexOf(d.case), 1);
    Atomics.store(this.count, 0, n + 1); // publishes the record
  }

  /** Ticks per case since the pool started (each tick counted under its own case only). */
  ticksByCase(): Record<ScalerCase, number> {
    return Object.fromEntries(CASES.map((c, i) => [c, Atomics.load(this.byCase, i)])) as Record<ScalerCase, number>;
  }

  /** Reader: up to `last` newest records, oldest first. */
  read(last = TRACE_CAPACITY): TraceRecord[] {
    const end = Atomics.load(this.count, 0);
    const start = Math.max(0, end - Math.min(last, TRACE_CAPACITY));
    const out: TraceRecord[] = [];
    for (let n = start; n < end; n++) {
      const at = (n % TRACE_CAPACITY) * STRIDE;
      const r: Record<string, unknown> = {};
      for (let i = 0; i < FIELDS.length; i++) r[FIELDS[i]!] = this.f[at + i];
      r.case = CASES[r.case as number];
      out.push(r as unknown as TraceRecord);
    }
    // The writer went on meanwhile: records it wrote over, and the one it may be writing now.
    const overwritten = Atomics.load(this.count, 0) + 1 - TRACE_CAPACITY;
    return overwritten > start ? out.slice(overwritten - start) : out;
  }
}
