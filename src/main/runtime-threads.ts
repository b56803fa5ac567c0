/**
 * Main thread: places the main thread on `default_core_allocation` and Bun's own helper threads
 * (JIT, GC, file I/O pool, HTTP client; found by name in /proc/self/task) on
 * `[runtime].core_allocation`, at start and again as new ones appear (Bun starts them lazily, and
 * a new thread inherits the mask of whichever thread created it). Restores both at close.
 */
import type { PlacementPlan } from "../config/types.ts";
import { PlacementError } from "../errors.ts";
import { allowedCores } from "../platform/cpus.ts";
import { gettid, getAffinity } from "../platform/libc.ts";
import { placeThread } from "../platform/placement.ts";
import { listThreads } from "../platform/proc.ts";

/** Names Bun gives its helper threads. */
export const RUNTIME_THREAD_NAMES = /^(JITWorker|HeapHelper|JSCWarmUp|mi-scavenger|Bun Pool \d+|HTTP Client)$/;
const RESCAN_MS = 1000;

export class RuntimeThreads {
  /** Helper threads placed so far (tid -> name). */
  readonly placed = new Map<number, string>();
  readonly mainTid = gettid();
  private mainCoresBefore: number[] | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly main?: PlacementPlan, private readonly runtime?: PlacementPlan) {}

  /** Places the main thread, then the helpers; throws PlacementError if the kernel refuses. */
  start(): void {
    if (this.main) {
      this.mainCoresBefore = getAffinity(0);
      const refused = placeThread(0, this.main);
      if (refused) throw new PlacementError("(main)", "main", refused.operation, refused.errno);
    }
    if (this.runtime) {
      this.rescan(true);
      this.timer = setInterval(() => this.rescan(false), RESCAN_MS);
      this.timer.unref();
    }
  }

  /** Places helper threads not placed yet. Returns how many it placed. */
  rescan(strict: boolean): number {
    if (!this.runtime) return 0;
    let n = 0;
    for (const t of listThreads()) {
      if (this.placed.has(t.tid) || !RUNTIME_THREAD_NAMES.test(t.name)) continue;
      const refused = placeThread(t.tid, this.runtime);
      if (refused?.errno === "ESRCH") continue; // exited meanwhile
      if (refused && strict) throw new PlacementError("(runtime)", t.name, refused.operation, refused.errno);
      this.placed.set(t.tid, t.name);
      n++;
    }
    return n;
  }

  /** Stops watching and gives the main thread and the helpers back the whole allowed set. */
  stop(): void {
    clearInterval(this.timer);
    if (this.mainCoresBefore) placeThread(0, { cores: this.mainCoresBefore, policy: "OTHER", nice: null, priority: 0 });
    for (const tid of this.placed.keys()) placeThread(tid, { cores: allowedCores(), policy: "OTHER", nice: null, priority: 0 });
    this.placed.clear();
  }
}
