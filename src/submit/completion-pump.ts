/**
 * A submitting thread (the main thread, or a pool thread that calls a pool): publishes queued task
 * records and collects completions from its lane's ring, in one microtask "flush" (docs/bun-platform.md:
 * coalesced publishing and polling in the same flush beat waitAsync alone ~2x).
 *
 * - While tasks are pending: after a flush that found nothing, spin polling the completion ring,
 *   then sleep on the doorbell with `Atomics.waitAsync` (src/shm/doorbell.ts). Many completions
 *   ring the doorbell once: only the first completer after the main thread said it sleeps rings.
 * - Before that, for short tasks, a bounded *blocking* wait on the doorbell (Atomics.wait with a
 *   timeout of twice the recent publish-to-completion time, an EMA, at most MAX_BLOCK_US): a
 *   waitAsync wake-up costs ~60 us in Bun (it hops through a helper thread), a futex wake ~10-25 us.
 *   Blocking, not spinning: a worker woken from park is often queued on the waker's core
 *   (wake-affine), and a spinning main thread would hold that core for the whole spin. So when the
 *   flush woke a parked worker, the main thread skips the spin and blocks at once. Either way the
 *   event loop is held at most MAX_BLOCK_US, as a spin would.
 * - While completions keep coming, re-run as a microtask, but yield to the event loop
 *   (setImmediate) after BURST_MS so timers and I/O are not starved; one drain stops after
 *   SLICE_MS too (a server on the main thread feels the pump's holding of the loop first:
 *   docs/bun-platform.md, 0.5 ms bursts and 50 us blocking waits keep 3-4x its requests per second).
 * - Idle (nothing pending): no timer, no wait armed, no CPU; a ref'd keep-alive timer exists only
 *   while tasks are pending, so the process can exit when the pool is idle (workers are unref'd).
 */
import type { Doorbell } from "../shm/doorbell.ts";
import type { Injector } from "../shm/injector.ts";
import { REC_WORDS } from "../shm/layout.ts";

const BURST_MS = 0.5;
const SLICE_MS = 0.5;
const MAX_BLOCK_US = 50;
/** Tasks whose responses average longer than this get no blocking wait at all (waitAsync only). */
const LONG_TASK_US = 250;
/** A submit this soon after completions arrived means a tight loop (await run(); await run(); ...). */
const HOT_GAP_MS = 0.05;
const DRAIN_BATCH = 256;
/** Fewest completions taken at once: when completions are costly (a map chunk settles and refills), smaller takes keep the slice. */
const DRAIN_BATCH_MIN = 16;

export interface PumpHost {
  /** Tasks submitted and not yet completed. */
  pendingCount(): number;
  /** Before completions are drained (read mail the workers sent). */
  beforeDrain(): void;
  /** After a drain that took `took` completions; `emptied`: the completion ring was seen empty at its end. */
  afterDrain(emptied: boolean, took: number): void;
  /** Publishes records queued since the last flush. */
  flushSubmissions(): void;
  /** Handles one completion record at `rec[at..at+3]`. */
  complete(rec: Int32Array, at: number): void;
  /** A completion threw: contain and report it; the other completions go on. */
  contain(error: unknown): void;
}

export class CompletionPump {
  /** Times the main thread woke from the doorbell (a completion arrived while it slept). */
  wakeups = 0;
  private scheduled = false;
  /** Inside run(): a schedule() from what the drain settles (a map feeding its next chunks) is run() itself's to do. */
  private running = false;
  private armed = false;
  private burstStart = 0;
  /** When the last flush published tasks (ms), until their first completion is seen. */
  private publishedAt = 0;
  /** The last flush woke a parked worker. */
  private wokeWorker = false;
  /** When completions were last delivered (ms). */
  private deliveredAt = 0;
  private hot = false;
  /** EMA of publish -> first completion, in ms. */
  private responseMs = 0;
  private readonly scratch = new Int32Array(DRAIN_BATCH * REC_WORDS);
  /** Completions taken at once: halved while a take outlasts a slice, doubled back while it does not. */
  private take = DRAIN_BATCH;
  private readonly keepAlive: ReturnType<typeof setInterval>;
  private readonly minSpinMs: number;

  constructor(
    private readonly host: PumpHost,
    private readonly completions: Injector,
    private readonly doorbell: Doorbell,
    spinMicros: number,
    /** The main thread's hint to workers that it submits in a tight loop (src/common/pool-control.ts). */
    private readonly setHot: (hot: boolean) => void = () => {},
    /** The main thread's: workers' mail waits (a thief may be blocked on a buffer's registration only main relays). */
    private readonly mailWaiting: () => boolean = () => false,
  ) {
    this.minSpinMs = spinMicros / 1000;
    this.keepAlive = setInterval(() => {}, 1 << 30);
    this.keepAlive.unref();
  }

  /** Called by the host after a flush that published `n` records. */
  published(n: number, wokeWorker: boolean): void {
    if (n === 0) return;
    const now = performance.now();
    if (this.publishedAt === 0) this.publishedAt = now;
    this.wokeWorker ||= wokeWorker;
    const hot = now - this.deliveredAt < HOT_GAP_MS;
    if (hot !== this.hot) {
      this.hot = hot;
      this.setHot(hot);
    }
  }

  /** Runs a flush soon (this microtask checkpoint). Cheap to call often. */
  schedule(): void {
    // Not while running: a microtask queued from inside would run before the burst's setImmediate, and
    // timers would starve (a 300k-item map held the event loop ~0.5 s that way, refilling chunks).
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    queueMicrotask(this.run);
  }

  /** Takes the completions there are now, for at most SLICE_MS (all of them when `all`); returns how many. */
  drain(all = true): number {
    let total = 0;
    const host = this.host;
    host.beforeDrain();
    let at = performance.now();
    const until = all ? Infinity : at + SLICE_MS;
    for (;;) {
      const take = this.take;
      const n = this.completions.popBatch(this.scratch, 0, take);
      for (let k = 0; k < n; k++) {
        try {
          host.complete(this.scratch, k * REC_WORDS);
        } catch (e) {
          host.contain(e);
        }
      }
      total += n;
      if (n > 0) {
        this.deliveredAt = performance.now();
        // A take that held the thread past a slice (map chunks settle 256 items and refill each) gets smaller.
        this.take = this.deliveredAt - at > SLICE_MS ? Math.max(DRAIN_BATCH_MIN, take >> 1) : Math.min(DRAIN_BATCH, take << 1);
        at = this.deliveredAt;
      }
      if (n > 0 && this.publishedAt !== 0) {
        const dt = this.deliveredAt - this.publishedAt;
        this.responseMs = this.responseMs === 0 ? dt : this.responseMs * 0.8 + dt * 0.2;
        this.publishedAt = 0;
      }
      if (n < take || (n > 0 && this.deliveredAt >= until)) {
        host.afterDrain(n < take, total);
        return total;
      }
    }
  }

  /** Stops keeping the process alive and releases a pending doorbell wait. */
  dispose(): void {
    clearInterval(this.keepAlive);
    this.doorbell.release();
  }

  private readonly run = (): void => {
    this.scheduled = false;
    this.running = true;
    let got: number;
    try {
      this.host.flushSubmissions();
      got = this.drain(false);
      this.host.flushSubmissions(); // tasks admitted by the drain
      if (this.host.pendingCount() === 0) {
        this.keepAlive.unref();
        return;
      }
      this.keepAlive.ref();
      // Spin when the worker is likely spinning too (it was not parked, or this is a tight loop).
      if (got === 0 && (!this.wokeWorker || this.hot)) got = this.spin();
      this.wokeWorker = false;
      if (got === 0) got = this.block();
      this.host.flushSubmissions(); // what those drains admitted or fed (a map's next chunks) goes now, not after a turn of the loop
    } finally {
      this.running = false;
    }
    if (got > 0) {
      if (this.armed) this.doorbell.awake(); // no rings while we are awake
      return this.again();
    }
    this.arm();
  };

  /** How long to block for completions: twice the EMA, capped; none when tasks run long. */
  private blockBudgetMs(): number {
    // The cap on one wait (MAX_BLOCK_US) is not the test for "tasks run long": a response measured
    // through waitAsync (~40-60 us here) must not switch blocking off for good.
    if (this.responseMs * 1000 > LONG_TASK_US) return 0;
    return Math.min(MAX_BLOCK_US / 1000, Math.max(this.minSpinMs, 2 * this.responseMs));
  }

  /** Announce, look, then a bounded synchronous sleep on the doorbell; returns completions drained. */
  private block(): number {
    const budget = this.blockBudgetMs();
    if (budget === 0) return 0;
    const bell = this.doorbell;
    const seen = bell.announce();
    if (!this.completions.hasItems() && !this.mailWaiting()) bell.sleep(seen, budget); // the last look, then a bounded sleep
    bell.awake();
    return this.drain(false);
  }

  private spin(): number {
    const until = performance.now() + this.minSpinMs;
    let k = 0;
    while (!this.completions.hasItems()) {
      if ((++k & 7) === 0 && performance.now() >= until) return 0;
    }
    return this.drain(false);
  }

  private again(): void {
    const now = performance.now();
    if (this.burstStart === 0) this.burstStart = now;
    if (now - this.burstStart < BURST_MS) return this.schedule();
    this.burstStart = 0;
    this.scheduled = true;
    setImmediate(this.run); // let timers and I/O run between bursts
  }

  /** Say we sleep, look once more, then wait for the doorbell (PROTOCOL.md, "Doorbell"). */
  private arm(): void {
    this.burstStart = 0;
    const bell = this.doorbell;
    const seen = bell.announce();
    // The last look sees mail too: a worker raises the flag, then rings (BELL D4, Mail M2).
    if (this.completions.hasItems() || this.mailWaiting()) {
      bell.awake();
      return this.schedule();
    }
    // A wait armed earlier is still outstanding: its value was read before this announcement too,
    // so the next ring resolves it. Do not stack a second one.
    if (this.armed) return;
    const woken = bell.sleep(seen);
    if (!woken) return this.schedule();
    this.armed = true;
    woken.then(() => {
      this.armed = false;
      this.wakeups++;
      this.schedule();
    });
  }
}
