/**
 * The pool manager's gate: where a dynamic thread waits while the pool does not need it. Each
 * worker has one gate word beside its park word (layout.ts, IDLE_GATE). A thread behind its gate is
 * outside the park protocol: its park word stays AWAKE and it is neither a searcher nor a sleeper,
 * so producers' `notifyOne` never picks it; only `open` (the pool manager) or shutdown lets it out.
 *
 * Concurrency contract: `close`, `wait`, `waitAsync`: worker i for its own gate, with nothing in
 * its deque and no task running (it found no work). `open`, `isClosed`: any thread. Shutdown opens every gate
 * (IdleState.shutdown). Protocol: PROTOCOL.md, "Manager gate".
 */
import {
  GATE_CLOSED, GATE_OPEN, IDLE_MAGIC, IDLE_NUM_WORKERS, IDLE_SHUTDOWN, attachHeader, gateWord, idleBytes, type SharedRef,
} from "./layout.ts";

/** How a wait behind the gate ended. */
export const GateExit = {
  /** The manager opened the gate: serve like a static thread again. */
  Opened: 0,
  /** The pool shuts down. */
  Shutdown: 1,
  /** The timeout passed; the gate is still closed (the thread does upkeep, then waits again). */
  TimedOut: 2,
} as const;
export type GateExit = (typeof GateExit)[keyof typeof GateExit];

export class ManagerGate {
  readonly workers: number;
  private readonly w: Int32Array;

  private constructor(ref: SharedRef) {
    const header = attachHeader("idle state", ref, IDLE_MAGIC);
    this.workers = header[IDLE_NUM_WORKERS]!;
    this.w = new Int32Array(ref.buffer, ref.byteOffset, idleBytes(this.workers) / 4);
  }

  /** Wraps the gates of the idle state at `ref` (IdleState.ref). */
  static attach(ref: SharedRef): ManagerGate {
    return new ManagerGate(ref);
  }

  /**
   * Worker i: closes its gate and looks at shutdown once more. True when the pool shuts
   * down (the gate is open again and the thread must not wait).
   */
  close(i: number): boolean {
    const word = gateWord(i);
    Atomics.store(this.w, word, GATE_CLOSED); // GATE-G1
    if (Atomics.load(this.w, IDLE_SHUTDOWN) === 0) return false; // GATE-G2
    Atomics.store(this.w, word, GATE_OPEN);
    return true;
  }

  /** Worker i, after close: sleeps until the gate opens or `timeoutMs` passes (the gate stays closed). */
  wait(i: number, timeoutMs = Infinity): GateExit {
    const word = gateWord(i);
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(this.w, word) === GATE_CLOSED) {
      const left = deadline - performance.now();
      if (left <= 0) return GateExit.TimedOut;
      Atomics.wait(this.w, word, GATE_CLOSED, left); // GATE-G3
    }
    return this.exit();
  }

  /** Like wait, with Atomics.waitAsync: the thread's event loop keeps running (async pools). */
  async waitAsync(i: number, timeoutMs = Infinity): Promise<GateExit> {
    const word = gateWord(i);
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(this.w, word) === GATE_CLOSED) {
      const left = deadline - performance.now();
      if (left <= 0) return GateExit.TimedOut;
      const r = Atomics.waitAsync(this.w, word, GATE_CLOSED, left);
      if (r.async) await r.value;
    }
    return this.exit();
  }

  /** Any thread (the pool manager): opens worker i's gate if it is closed. True when it let a thread out. */
  open(i: number): boolean {
    const word = gateWord(i);
    if (Atomics.compareExchange(this.w, word, GATE_CLOSED, GATE_OPEN) !== GATE_CLOSED) return false; // GATE-G4
    Atomics.notify(this.w, word);
    return true;
  }

  /** Shutdown, after SHUTDOWN is set (idle.ts): opens worker i's gate whatever its state, waking a closed one. */
  openForShutdown(i: number): void {
    const word = gateWord(i);
    if (Atomics.exchange(this.w, word, GATE_OPEN) === GATE_CLOSED) Atomics.notify(this.w, word); // GATE-G5
  }

  /** True while worker i waits behind its gate (or is about to). */
  isClosed(i: number): boolean {
    return Atomics.load(this.w, gateWord(i)) === GATE_CLOSED;
  }

  private exit(): GateExit {
    return Atomics.load(this.w, IDLE_SHUTDOWN) !== 0 ? GateExit.Shutdown : GateExit.Opened;
  }
}
