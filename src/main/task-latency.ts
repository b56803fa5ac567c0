/**
 * Main thread: a pool's wait-time and run-time histograms as metrics. The threads' counts only grow
 * (src/common/task-timings.ts); a window is the counts now minus a copy taken when it opened, so
 * resetting one needs no write to what the threads own. Prometheus gets the cumulative counts.
 */
import { BUCKETS, bucketTop, type TaskTimings } from "../common/task-timings.ts";

/** Percentiles in ms, at the bucket's upper edge (values under 32 us exact, above within 6.25%). */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Since the pool started: Prometheus buckets (upper bound in seconds, cumulative count). */
export interface LatencyHistogram {
  count: number;
  sumSeconds: number;
  buckets: Array<[le: number, count: number]>;
}

export interface LatencyMetrics {
  /** When the current window opened (ms since the epoch) and how long it has been open. */
  windowStart: number;
  windowMs: number;
  /** Queued in shared memory -> a thread started it. */
  wait: LatencySummary;
  /** Started -> the thread posted its result or error. */
  run: LatencySummary;
}

/** Prometheus bucket bounds in us: powers of two from 2 us to ~67 s (edges of the fine buckets, so exact). */
const LE_US = Array.from({ length: 26 }, (_, k) => 2 ** (k + 1));

export class TaskLatency {
  private readonly base = [new Float64Array(BUCKETS), new Float64Array(BUCKETS)];
  private readonly baseSum = [0, 0];
  private windowStart = Date.now();

  constructor(private readonly timings: TaskTimings) {}

  /**
   * One read of the threads' counts per histogram: the current window (with `reset`, the next one
   * opens now) and the cumulative Prometheus buckets, from the same counts.
   */
  read(reset = false): { latency: LatencyMetrics; histograms: { wait: LatencyHistogram; run: LatencyHistogram } } {
    const now = Date.now();
    const [wait, run] = ([0, 1] as const).map((which) => {
      const counts = new Float64Array(BUCKETS);
      const sumUs = this.timings.collect(which, counts);
      return { summary: this.summary(which, counts, sumUs, reset), histogram: histogram(counts, sumUs) };
    });
    const latency: LatencyMetrics = { windowStart: this.windowStart, windowMs: now - this.windowStart, wait: wait!.summary, run: run!.summary };
    if (reset) this.windowStart = now;
    return { latency, histograms: { wait: wait!.histogram, run: run!.histogram } };
  }

  /** The window of `which`: `total` (counts since start) minus the copy taken when it opened. */
  private summary(which: 0 | 1, total: Float64Array, sumUs: number, reset: boolean): LatencySummary {
    const base = this.base[which]!;
    const counts = new Float64Array(BUCKETS);
    let count = 0;
    for (let i = 0; i < BUCKETS; i++) count += counts[i] = total[i]! - base[i]!;
    const out = {
      count, meanMs: count > 0 ? (sumUs - this.baseSum[which]!) / count / 1000 : 0,
      p50: percentile(counts, count, 0.5), p90: percentile(counts, count, 0.9), p99: percentile(counts, count, 0.99), max: percentile(counts, count, 1),
    };
    if (reset) {
      base.set(total);
      this.baseSum[which] = sumUs;
    }
    return out;
  }
}

/** Cumulative counts since start, in Prometheus' shape. */
export function histogram(counts: Float64Array, sumUs: number): LatencyHistogram {
  const buckets: Array<[number, number]> = [];
  let cumulative = 0;
  let i = 0;
  for (const le of LE_US) {
    while (i < BUCKETS && bucketTop(i) < le) cumulative += counts[i++]!;
    buckets.push([le / 1e6, cumulative]);
  }
  while (i < BUCKETS) cumulative += counts[i++]!;
  return { count: cumulative, sumSeconds: sumUs / 1e6, buckets };
}

/** The value (ms) at or below which a fraction `q` of the samples fall; 0 with no samples. */
export function percentile(counts: Float64Array, total: number, q: number): number {
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += counts[i]!;
    if (seen >= rank) return bucketTop(i) / 1000;
  }
  return bucketTop(BUCKETS - 1) / 1000;
}
