/**
 * The pool manager's view of one pool: reads the shared words the scaling rule needs (arrivals,
 * completions, queue depth, who is alive, busy or behind its gate), and carries a decision out:
 * opens dynamic threads' gates itself, and asks the main thread for standalone threads (only the
 * main thread can start a Worker for the pool: README, "Adaptive scaling").
 *
 * Seats: [0, static) static, [static, static + dynamic) dynamic, the rest standalone.
 * Runs on the pool-manager thread; one instance per pool.
 */
import { PoolControl } from "../common/pool-control.ts";
import type { PoolScaling } from "../config/types.ts";
import { WORKER_FINISHED, WORKER_RUNNING } from "../shm/layout.ts";
import { ManagerGate } from "../shm/manager-gate.ts";
import { PoolQueues } from "../shm/pool-queues.ts";
import { dynamicSeats, roleOfSeat } from "../common/thread-roles.ts";
import type { PoolQueueRefs } from "../shm/work-finder.ts";
import { ScalingRule, type ScalerDecision, type ScalerSample } from "./scaling-rule.ts";
import { ScalingTrace, type ThreadKinds } from "./scaling-trace.ts";

/** What the main thread sends the pool manager about one pool (structured-clone safe). */
export interface ScaledPoolRefs {
  pool: string;
  control: SharedArrayBuffer;
  queues: PoolQueueRefs;
  trace: SharedArrayBuffer;
  scaling: PoolScaling;
  /** Seats (max_threads). */
  seats: number;
  /** Cores the pool may use: the rising case provisions at most this many. */
  cores: number;
  /** Tasks one thread runs at once (async pools' `concurrency`; 1 for compute): a thread is busy when it has that many. */
  concurrency: number;
}

export class PoolSampler {
  readonly name: string;
  readonly rule: ScalingRule;
  readonly trace: ScalingTrace;
  readonly intervalMs: number;
  private readonly control: PoolControl;
  /** Read only: queue depth and shutdown. */
  private readonly queues: PoolQueues;
  private readonly gate: ManagerGate;
  /** The dynamic seats, [start, end); static ones before, standalone ones after. */
  private readonly dynamic: { start: number; end: number };
  private finishedBefore = 0;

  constructor(private readonly refs: ScaledPoolRefs) {
    const s = refs.scaling;
    this.name = refs.pool;
    this.intervalMs = s.intervalMs;
    this.rule = new ScalingRule({
      window: s.window, lowWatermark: s.lowWatermark, maxSpawnPerTick: s.maxSpawnPerTick, cores: refs.cores, maxThreads: refs.seats,
    });
    this.trace = new ScalingTrace(refs.trace);
    this.control = PoolControl.attach(refs.control);
    this.queues = PoolQueues.attach(refs.queues);
    this.gate = ManagerGate.attach(refs.queues.idle);
    this.dynamic = dynamicSeats(s);
    this.finishedBefore = this.finished();
  }

  /** True once the pool shut down: nothing more to manage. */
  get closed(): boolean {
    return this.queues.idle.isShutdown();
  }

  /** One tick: sample, decide, carry out, trace. Returns the decision (and asks main for spawns through `spawn`). */
  tick(now: number, spawn: (pool: string, n: number) => void): ScalerDecision {
    const sample = this.sample(now);
    const decision = this.rule.tick(sample);
    let opened = 0;
    for (let i = this.dynamic.start; i < this.dynamic.end && opened < decision.unpark; i++) {
      if (this.alive(i) && this.gate.open(i)) opened++;
    }
    if (decision.spawn > 0) {
      this.control.askSpawns(decision.spawn);
      spawn(this.name, decision.spawn);
    }
    this.trace.write(performance.timeOrigin + now, sample, decision, this.kinds());
    return decision;
  }

  /** What the rule needs, read from shared memory now. The arrivals counter is swapped to 0. */
  sample(now: number): ScalerSample {
    const w = this.control.w;
    const arrivals = this.control.takeArrivals();
    const finished = this.finished();
    const completions = (finished - this.finishedBefore) | 0; // int32 counters wrap
    this.finishedBefore = finished;
    const queueDepth = this.queues.pending();
    let active = 0;
    let busy = 0;
    let parkedDynamic = 0;
    let total = this.control.spawnsWanted();
    for (let i = 0; i < this.refs.seats; i++) {
      if (!this.alive(i)) continue;
      total++;
      if (this.gate.isClosed(i)) {
        if (roleOfSeat(this.refs.scaling, i) === "dynamic") parkedDynamic++;
        continue;
      }
      active++;
      if (Atomics.load(w, this.control.workerWord(i, WORKER_RUNNING)) >= this.refs.concurrency) busy++;
    }
    return { now, arrivals, completions, queueDepth, active, busy, parkedDynamic, total };
  }

  /** Live threads by kind, dynamic ones split by whether they are behind their gate. */
  kinds(): ThreadKinds {
    const k: ThreadKinds = { static: 0, dynamicActive: 0, dynamicParked: 0, standalone: 0 };
    for (let i = 0; i < this.refs.seats; i++) {
      if (!this.alive(i)) continue;
      const role = roleOfSeat(this.refs.scaling, i);
      if (role === "dynamic") this.gate.isClosed(i) ? k.dynamicParked++ : k.dynamicActive++;
      else k[role]++;
    }
    return k;
  }

  private alive(i: number): boolean {
    return this.control.seatAlive(i);
  }

  private finished(): number {
    let n = 0;
    for (let i = 0; i < this.refs.seats; i++) n = (n + Atomics.load(this.control.w, this.control.workerWord(i, WORKER_FINISHED))) | 0;
    return n;
  }
}
