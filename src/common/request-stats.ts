/**
 * Serving pools' requests (src/worker/pool-server.ts): per seat, how many requests its server
 * answered, how many with a 5xx (or a handler that threw), and a latency histogram (the
 * HdrHistogram-like buckets of src/common/task-timings.ts), in shared memory. Only the seat's
 * thread writes its line (plain increments); the main thread reads them for metrics() and
 * Prometheus. A replacement thread carries on its seat's counts.
 */
import { BUCKETS, bucketOf } from "./task-timings.ts";

const SEAT_F64 = 1; // latency sum, us
const SEAT_I32 = 2 + BUCKETS; // requests, errors, buckets
const SEAT_BYTES = SEAT_F64 * 8 + SEAT_I32 * 4;

export interface RequestTotals {
  requests: number;
  errors: number;
  sumUs: number;
  /** Per bucket (BUCKETS long). */
  counts: Float64Array;
}

export class RequestStats {
  private readonly sums: Float64Array[] = [];
  private readonly words: Int32Array[] = [];

  private constructor(readonly buffer: SharedArrayBuffer, readonly seats: number) {
    for (let s = 0; s < seats; s++) {
      this.sums.push(new Float64Array(buffer, s * SEAT_BYTES, SEAT_F64));
      this.words.push(new Int32Array(buffer, s * SEAT_BYTES + SEAT_F64 * 8, SEAT_I32));
    }
  }

  static allocate(seats: number): RequestStats {
    return new RequestStats(new SharedArrayBuffer(seats * SEAT_BYTES), seats);
  }

  static attach(buffer: SharedArrayBuffer, seats: number): RequestStats {
    return new RequestStats(buffer, seats);
  }

  /** Serving thread in `seat`: a request answered with `status` after `ms`. */
  record(seat: number, ms: number, status: number): void {
    const w = this.words[seat]!;
    const us = Math.max(0, Math.min(0x7fffffff, Math.round(ms * 1000)));
    w[0] = w[0]! + 1;
    if (status >= 500) w[1] = w[1]! + 1;
    const b = 2 + bucketOf(us);
    w[b] = w[b]! + 1;
    this.sums[seat]![0] = this.sums[seat]![0]! + us;
  }

  /** Main thread: every seat's counts added up. */
  totals(): RequestTotals {
    const counts = new Float64Array(BUCKETS);
    let requests = 0;
    let errors = 0;
    let sumUs = 0;
    for (let s = 0; s < this.seats; s++) {
      const w = this.words[s]!;
      requests += w[0]!;
      errors += w[1]!;
      for (let i = 0; i < BUCKETS; i++) counts[i] = counts[i]! + w[2 + i]!;
      sumUs += this.sums[s]![0]!;
    }
    return { requests, errors, sumUs, counts };
  }
}
