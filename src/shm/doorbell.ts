/**
 * A submitter's doorbell (PROTOCOL.md, "Doorbell"): how a pool thread wakes a submitting thread
 * that sleeps waiting for completions, with one ring per sleep however many completions arrive.
 * Owns a WAITING word (1 while the submitter announced a sleep and nobody rang) and a DOORBELL
 * word (a counter the submitter waits on): the main thread's pair is POOL_MAIN_WAITING and
 * POOL_DOORBELL in the control block, every other submitter's is in its lane's line
 * (src/shm/submitter-lanes.ts). Modelled in models/doorbell.pml with the same step labels.
 */
import { POOL_DOORBELL, POOL_MAIN_WAITING } from "./layout.ts";

export class Doorbell {
  constructor(
    private readonly w: Int32Array,
    private readonly waiting = POOL_MAIN_WAITING,
    private readonly bell = POOL_DOORBELL,
  ) {}

  /**
   * Pool thread, after its completion is published: rings if main announced a sleep.
   * Only the first completer after the announcement wins the CAS and rings. True: it rang.
   */
  ring(): boolean {
    const w = this.w;
    if (Atomics.load(w, this.waiting) !== 1 || Atomics.compareExchange(w, this.waiting, 1, 0) !== 1) return false; // BELL-D2
    Atomics.add(w, this.bell, 1);
    Atomics.notify(w, this.bell);
    return true;
  }

  /**
   * Main, before sleeping: reads the doorbell, then announces the sleep; returns the value to wait
   * on. The caller must look at the completion ring once more before it sleeps.
   */
  announce(): number {
    const seen = Atomics.load(this.w, this.bell); // BELL-D3: before announcing
    Atomics.store(this.w, this.waiting, 1); // BELL-D4
    return seen;
  }

  /** Main is awake again (it found completions, or woke): no rings are owed. */
  awake(): void {
    Atomics.store(this.w, this.waiting, 0);
  }

  /**
   * Sleeps until the doorbell moves past `seen`: blocking, for at most `blockMs`; or, without it,
   * asynchronously: the promise settles on a ring (undefined: it moved already, nothing to wait for).
   */
  sleep(seen: number, blockMs?: number): Promise<unknown> | undefined {
    // BELL-D5
    if (blockMs !== undefined) {
      Atomics.wait(this.w, this.bell, seen, blockMs);
      return undefined;
    }
    const r = Atomics.waitAsync(this.w, this.bell, seen);
    return r.async ? r.value : undefined;
  }

  /** Releases a main thread sleeping on the doorbell for good (the pool is disposed). */
  release(): void {
    Atomics.add(this.w, this.bell, 1);
    Atomics.notify(this.w, this.bell);
  }
}
