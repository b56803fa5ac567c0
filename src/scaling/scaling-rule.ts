/**
 * The pool manager's scaling rule (after bastion's thread manager, the seed `003`): samples in,
 * a decision out, the clock injected. Pure: no threads, no shared memory; the pool manager feeds it
 * one sample per tick (default every 90 ms) and carries the decision out.
 *
 * - Frequency detector: tasks submitted since the last tick, as a **float** rate in tasks per ms.
 *   (Departure from the seed: it truncates to an integer, so any rate under 1 task/ms reads as 0.)
 * - Trend estimator: the last `window` rates; EMA with alpha = 2 / (window + 1), **newest sample
 *   weighted most**: ema = alpha * newest + (1 - alpha) * ema(older). (Departure: the seed's fold
 *   weights the oldest most, the opposite of its own comment.) The window keeps the newest `window`
 *   samples; `curr` is their EMA, `prev` the EMA of the same window without the newest sample.
 * - Predictive upscaler, the seed's three cases, plus the starvation rule of .NET's thread
 *   injection and Java's ForkJoinPool compensation:
 *   1. rising: curr > prev: provision min(cores, floor(low_watermark * (curr - prev) + low_watermark)).
 *   2. falling: nothing; threads shrink themselves (dynamic ones park, standalone ones exit).
 *   3. stalled by throughput hogs: work waits in the queue, every active thread is busy, and the
 *      tick's completions fall behind the backlog (fewer than the tasks still waiting, so it
 *      outlasts the next tick, whether tasks keep arriving or not): low_watermark more a tick,
 *      linearly. Judged from queue depth and completions, never from float equality.
 *   4. starved: the queue is not empty and nothing completed for a whole tick: one more thread,
 *      even when arrivals stopped.
 *   Provisioning unparks dynamic threads first, then spawns standalone ones (at most
 *   max_spawn_per_tick a tick), never past max_threads, and only when every active thread is
 *   busy and no dynamic thread is left parked.
 */

export interface ScalingRuleConfig {
  /** Samples in the trend window (default 10). */
  window: number;
  /** The seed's DEFAULT_LOW_WATERMARK (default 2). */
  lowWatermark: number;
  /** Most threads spawned in one tick (default 2). */
  maxSpawnPerTick: number;
  /** Cores the pool may use: the rising case provisions at most this many. */
  cores: number;
  /** static + dynamic + standalone never exceed this. */
  maxThreads: number;
}

/** What the pool manager saw in one tick. */
export interface ScalerSample {
  /** The injected clock, ms. */
  now: number;
  /** Tasks submitted since the last tick (the frequency detector's counter, swapped to 0). */
  arrivals: number;
  /** Tasks completed since the last tick. */
  completions: number;
  /** Records waiting in the pool's queues now. */
  queueDepth: number;
  /** Threads not parked (static, unparked dynamic, standalone). */
  active: number;
  /** Of those, threads running a task now. */
  busy: number;
  /** Dynamic threads parked on the manager's word, ready to be unparked. */
  parkedDynamic: number;
  /** Every thread alive: static + dynamic (parked or not) + standalone. */
  total: number;
}

export type ScalerCase = "first" | "rising" | "falling" | "steady" | "hog" | "starved";

export interface ScalerDecision {
  case: ScalerCase;
  /** Tasks per ms over the tick. */
  rate: number;
  prevEma: number;
  currEma: number;
  /** Threads the rule asked for. */
  wanted: number;
  /** Dynamic threads to unpark. */
  unpark: number;
  /** Standalone threads to spawn. */
  spawn: number;
}

const EPSILON = 1e-9;

export class ScalingRule {
  private readonly rates: number[] = [];
  private lastTick: number | undefined;
  readonly alpha: number;

  constructor(private readonly config: ScalingRuleConfig) {
    this.alpha = 2 / (config.window + 1);
  }

  /** The EMA of `rates`, oldest first: the newest sample weighs alpha. */
  ema(rates: readonly number[] = this.rates): number {
    if (rates.length === 0) return 0;
    let acc = rates[0]!;
    for (let i = 1; i < rates.length; i++) acc = this.alpha * rates[i]! + (1 - this.alpha) * acc;
    return acc;
  }

  /** The trend window, oldest first (a copy). */
  window(): number[] {
    return [...this.rates];
  }

  /** One tick: take the sample, say what to do. */
  tick(s: ScalerSample): ScalerDecision {
    const { lowWatermark, cores } = this.config;
    const first = this.lastTick === undefined;
    const elapsed = first ? 0 : Math.max(EPSILON, s.now - this.lastTick!);
    this.lastTick = s.now;
    const rate = first ? 0 : s.arrivals / elapsed;
    if (!first) {
      this.rates.push(rate);
      if (this.rates.length > this.config.window) this.rates.shift();
    }
    // prev: the samples that stay in the window, before the new one joined; curr: with it. Both over
    // the same older samples, so curr - prev = alpha * (rate - prev): the trend rises only when the
    // new rate is above it. (Comparing with the EMA of the window before the oldest sample left
    // would let a slide alone look like a rise: the new oldest sample weighs more as the seed.)
    const prevEma = first ? 0 : this.ema(this.rates.slice(0, -1));
    const currEma = this.ema();
    let kind: ScalerCase;
    let wanted = 0;
    if (first) {
      kind = "first";
    } else if (currEma > prevEma + EPSILON) {
      kind = "rising";
      wanted = Math.min(cores, Math.floor(lowWatermark * (currEma - prevEma) + lowWatermark));
    } else if (s.queueDepth > 0 && s.busy >= s.active && s.completions < s.queueDepth) {
      // Work waits, every active thread is busy, and at this tick's pace the backlog outlasts the next tick.
      kind = "hog";
      wanted = lowWatermark;
    } else if (s.queueDepth > 0 && s.completions === 0) {
      kind = "starved";
      wanted = 1;
    } else {
      kind = currEma < prevEma - EPSILON ? "falling" : "steady";
    }
    return { case: kind, rate, prevEma, currEma, wanted, ...this.provision(wanted, s) };
  }

  /**
   * Unpark dynamic threads first, then spawn standalone ones (max_spawn_per_tick, max_threads). A
   * spawn is for what static + dynamic threads cannot give: none while a dynamic thread stays
   * parked or an active thread is not busy (an async thread with free task slots is not busy).
   */
  private provision(wanted: number, s: ScalerSample): { unpark: number; spawn: number } {
    const unpark = Math.min(wanted, s.parkedDynamic);
    if (s.parkedDynamic > unpark || s.busy < s.active) return { unpark, spawn: 0 };
    const room = Math.max(0, this.config.maxThreads - s.total);
    return { unpark, spawn: Math.max(0, Math.min(wanted - unpark, this.config.maxSpawnPerTick, room)) };
  }
}
