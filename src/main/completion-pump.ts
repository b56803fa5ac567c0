/**
 * Main thread: publishes queued task records and collects completions, in one microtask "flush"
 * (PLATFORM.md: coalesced publishing and polling in the same flush beat waitAsync alone ~2x).
 *
 * - While tasks are pending: after a flush that found nothing, spin `spinMicros` polling the
 *   completion ring, then sleep on the doorbell with `Atomics.waitAsync` (D3-D5 in PROTOCOL.md).
 *   Many completions ring the doorbell once: only the first completer after the main thread said
 *   it sleeps rings.
 * - While completions keep coming, re-run as a microtask, but yield to the event loop
 *   (setImmediate) after BURST_MS so timers and I/O are not starved.
 * - Idle (nothing pending): no timer, no wait armed, no CPU; a ref'd keep-alive timer exists only
 *   while tasks are pending, so the process can exit when the pool is idle (workers are unref'd).
 */
import { POOL_DOORBELL, POOL_MAIN_WAITING, type PoolControl } from "../common/pool-control.ts";
import type { Injector } from "../shm/injector.ts";
import { REC_WORDS } from "../shm/layout.ts";

const BURST_MS = 2;
const DRAIN_BATCH = 256;
const MAX_PER_FLUSH = 1 << 14;

export interface PumpHost {
  /** Tasks submitted and not yet completed. */
  pendingCount(): number;
  /** Publishes records queued since the last flush. */
  flushSubmissions(): void;
  /** Handles one completion record at `rec[at..at+3]`. */
  complete(rec: Int32Array, at: number): void;
}

export class CompletionPump {
  /** Times the main thread woke from the doorbell (a completion arrived while it slept). */
  wakeups = 0;
  private scheduled = false;
  private armed = false;
  private burstStart = 0;
  private readonly scratch = new Int32Array(DRAIN_BATCH * REC_WORDS);
  private readonly keepAlive: ReturnType<typeof setInterval>;
  private readonly spinMs: number;

  constructor(
    private readonly host: PumpHost,
    private readonly completions: Injector,
    private readonly control: PoolControl,
    spinMicros: number,
  ) {
    this.spinMs = spinMicros / 1000;
    this.keepAlive = setInterval(() => {}, 1 << 30);
    this.keepAlive.unref();
  }

  /** Runs a flush soon (this microtask checkpoint). Cheap to call often. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.run);
  }

  /** Takes every completion there is now; returns how many. */
  drain(): number {
    let total = 0;
    for (;;) {
      const n = this.completions.popBatch(this.scratch, 0, DRAIN_BATCH);
      for (let k = 0; k < n; k++) this.host.complete(this.scratch, k * REC_WORDS);
      total += n;
      if (n < DRAIN_BATCH || total >= MAX_PER_FLUSH) return total;
    }
  }

  /** Stops keeping the process alive and releases a pending doorbell wait. */
  dispose(): void {
    clearInterval(this.keepAlive);
    Atomics.add(this.control.w, POOL_DOORBELL, 1);
    Atomics.notify(this.control.w, POOL_DOORBELL);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    this.host.flushSubmissions();
    let got = this.drain();
    if (this.host.pendingCount() === 0) {
      this.keepAlive.unref();
      return;
    }
    this.keepAlive.ref();
    if (got === 0 && !this.armed) got = this.spin();
    if (got > 0) return this.again();
    this.arm();
  };

  private spin(): number {
    const until = performance.now() + this.spinMs;
    let k = 0;
    while (!this.completions.hasItems()) {
      if ((++k & 7) === 0 && performance.now() >= until) return 0;
    }
    return this.drain();
  }

  private again(): void {
    const now = performance.now();
    if (this.burstStart === 0) this.burstStart = now;
    if (now - this.burstStart < BURST_MS) return this.schedule();
    this.burstStart = 0;
    this.scheduled = true;
    setImmediate(this.run); // let timers and I/O run between bursts
  }

  /** D3-D5: say we sleep, look once more, then wait for the doorbell. */
  private arm(): void {
    this.burstStart = 0;
    if (this.armed) return; // a wait is already outstanding; it fires on the next ring
    const w = this.control.w;
    const seen = Atomics.load(w, POOL_DOORBELL); // D3: read before announcing
    Atomics.store(w, POOL_MAIN_WAITING, 1); // D4
    if (this.completions.hasItems()) {
      Atomics.store(w, POOL_MAIN_WAITING, 0);
      return this.schedule();
    }
    const r = Atomics.waitAsync(w, POOL_DOORBELL, seen); // D5
    if (!r.async) return this.schedule();
    this.armed = true;
    r.value.then(() => {
      this.armed = false;
      this.wakeups++;
      this.schedule();
    });
  }
}
