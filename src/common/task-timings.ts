/**
 * Task wait and run times, recorded by the pool threads into shared memory (no lock, no message).
 *
 * One buffer per pool: a Float64 stamp per task slot, then per seat two log-linear histograms
 * (wait: queued -> started, run: started -> finished) and their sums. Buckets follow HdrHistogram's
 * scheme with 16 sub-buckets per power of two: values below 32 us are exact, above that a bucket
 * spans at most 1/16 of its value (6.25%). Times are in microseconds, measured on one clock: each
 * thread shifts its performance.now() by the difference of its time origin and the main thread's.
 *
 * Clock reads cost ~40 ns each here (kvm-clock), two per task: a thread whose last timed task ran
 * under SAMPLE_BELOW_US times only one task in SAMPLE_EVERY and counts the others at the last timed
 * values (counts stay exact; percentiles of such streaks come from the sample; their sums reach
 * the shared sums with the next timed task). Tiny-task throughput fell ~30% when every task was
 * timed; a task longer than that pays < 0.5%.
 *
 * Who writes what (PROTOCOL.md, "Task timings"):
 * - stamp[slot]: the main thread writes the time it publishes the task's record (one clock read per
 *   flush), before the record's seq-cst publish; the thread that claims the task (the state CAS
 *   makes it the only one) reads it when it times the task. Threads never write stamps: a start
 *   time stays in the thread's own map (writing it back cost a shared cache line per task).
 * - a seat's counts and sums: only the thread in that seat (plain increments; a replacement
 *   thread carries on the counts). The main thread reads them without a lock; a read racing a
 *   write can miss the newest sample, never tear a count.
 */

/** Sub-buckets per power of two; values below 2 * SUB us get a bucket each. */
const SUB_BITS = 4;
const SUB = 1 << SUB_BITS;
const EXACT = 2 * SUB;
/** Values up to 2^31 us (~36 minutes); larger ones land in the last bucket. */
const TOP_EXPONENT = 31;
export const BUCKETS = EXACT + (TOP_EXPONENT - SUB_BITS - 1) * SUB;

/** A thread whose tasks run shorter than this samples them (above: every task timed). */
const SAMPLE_BELOW_US = 20;
const SAMPLE_EVERY = 16;

const SEAT_F64 = 2; // wait sum, run sum (us)
const SEAT_I32 = 2 * BUCKETS; // wait counts, run counts
const SEAT_BYTES = SEAT_F64 * 8 + SEAT_I32 * 4;

/** The bucket that counts `us` (an integer >= 0). */
export function bucketOf(us: number): number {
  if (us < EXACT) return us < 0 ? 0 : us;
  const e = 31 - Math.clz32(us); // us in [2^e, 2^(e+1)), e >= SUB_BITS + 1
  const i = EXACT + (e - SUB_BITS - 1) * SUB + ((us >>> (e - SUB_BITS)) - SUB);
  return i < BUCKETS ? i : BUCKETS - 1;
}

/** The largest value (us) bucket `i` counts: what percentiles report (HdrHistogram's highest equivalent value). */
export function bucketTop(i: number): number {
  if (i < EXACT) return i;
  const octave = Math.floor((i - EXACT) / SUB);
  const e = octave + SUB_BITS + 1;
  const sub = (i - EXACT) % SUB;
  return (SUB + sub + 1) * 2 ** (e - SUB_BITS) - 1; // not <<: the top bucket reaches 2^31
}

function toMicros(ms: number): number {
  const us = Math.round(ms * 1000);
  return us > 0 ? (us < 0x7fffffff ? us : 0x7fffffff) : 0;
}

export class TaskTimings {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  readonly seats: number;
  /** Per-slot stamps, ms on the main thread's clock. */
  readonly stamps: Float64Array;
  private readonly sums: Float64Array[] = [];
  private readonly counts: Int32Array[] = [];
  /** Added to this thread's performance.now() to read the main thread's clock. */
  private readonly shift: number;
  /** Pool thread: start times of the tasks it is timing, by slot (thread-local: no shared line written per task). */
  private readonly open = new Map<number, number>();
  /** Pool thread: tasks left to count without timing, and the last timed values (us). */
  private untimedLeft = 0;
  private lastWaitUs = 0;
  private lastRunUs = 0;
  private lastWaitBucket = 0;
  private lastRunBucket = BUCKETS;
  /** Sums of sampled-out tasks not yet added to the shared sums (at most SAMPLE_EVERY - 1 tasks' worth). */
  private lagWaitUs = 0;
  private lagRunUs = 0;

  private constructor(buffer: SharedArrayBuffer, slots: number, seats: number, mainOrigin: number) {
    this.buffer = buffer;
    this.slots = slots;
    this.seats = seats;
    this.stamps = new Float64Array(buffer, 0, slots);
    for (let s = 0; s < seats; s++) {
      const at = slots * 8 + s * SEAT_BYTES;
      this.sums.push(new Float64Array(buffer, at, SEAT_F64));
      this.counts.push(new Int32Array(buffer, at + SEAT_F64 * 8, SEAT_I32));
    }
    this.shift = performance.timeOrigin - mainOrigin;
  }

  static allocate(slots: number, seats: number): TaskTimings {
    return new TaskTimings(new SharedArrayBuffer(slots * 8 + seats * SEAT_BYTES), slots, seats, performance.timeOrigin);
  }

  /** A pool thread's view: `mainOrigin` is the main thread's performance.timeOrigin. */
  static attach(buffer: SharedArrayBuffer, slots: number, seats: number, mainOrigin: number): TaskTimings {
    return new TaskTimings(buffer, slots, seats, mainOrigin);
  }

  /** Now, in ms on the main thread's clock. */
  now(): number {
    return performance.now() + this.shift;
  }

  /** Main thread: the task in `slot` is published at `at` (ms, main clock). */
  queued(slot: number, at: number): void {
    this.stamps[slot] = at;
  }

  /** Pool thread in `seat`: the task in `slot` starts now; records its wait. */
  started(seat: number, slot: number): void {
    const counts = this.counts[seat]!;
    if (this.untimedLeft > 0) {
      // Sampling: counted at the last timed value; its sum lags in a local until the next timed task.
      this.untimedLeft--;
      counts[this.lastWaitBucket] = counts[this.lastWaitBucket]! + 1;
      this.lagWaitUs += this.lastWaitUs;
      return;
    }
    const now = this.now();
    const us = toMicros(now - this.stamps[slot]!);
    this.lastWaitUs = us;
    this.lastWaitBucket = bucketOf(us);
    counts[this.lastWaitBucket] = counts[this.lastWaitBucket]! + 1;
    const sums = this.sums[seat]!;
    sums[0] = sums[0]! + us + this.lagWaitUs;
    this.lagWaitUs = 0;
    this.open.set(slot, now);
  }

  /** Pool thread in `seat`: the task in `slot` (started by this thread) ends now; records its run time. */
  finished(seat: number, slot: number): void {
    const counts = this.counts[seat]!;
    const start = this.open.size === 0 ? undefined : this.open.get(slot); // sampled-out streaks skip the lookup
    if (start === undefined) {
      counts[this.lastRunBucket] = counts[this.lastRunBucket]! + 1;
      this.lagRunUs += this.lastRunUs;
      return;
    }
    this.open.delete(slot);
    const us = toMicros(this.now() - start);
    this.lastRunUs = us;
    this.lastRunBucket = BUCKETS + bucketOf(us);
    counts[this.lastRunBucket] = counts[this.lastRunBucket]! + 1;
    const sums = this.sums[seat]!;
    sums[1] = sums[1]! + us + this.lagRunUs;
    this.lagRunUs = 0;
    if (us < SAMPLE_BELOW_US) this.untimedLeft = SAMPLE_EVERY - 1;
  }

  /** Main thread: adds every seat's counts of `which` (0 wait, 1 run) into `into` (BUCKETS long); returns the sum in us. */
  collect(which: 0 | 1, into: Float64Array): number {
    let sum = 0;
    for (let s = 0; s < this.seats; s++) {
      const c = this.counts[s]!;
      const base = which * BUCKETS;
      for (let i = 0; i < BUCKETS; i++) into[i] = into[i]! + c[base + i]!;
      sum += this.sums[s]![which]!;
    }
    return sum;
  }
}
