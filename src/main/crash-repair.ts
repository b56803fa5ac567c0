/**
 * Main thread: what happens when a pool thread dies (PROTOCOL.md, "Crash repair"). Its completions
 * posted before death are taken first; every task it was still running rejects with
 * WorkerCrashedError; its queue counters are repaired; a replacement starts in its seat (tried
 * again with backoff while it fails to load; a standalone seat is left free instead). Records
 * still in its deque stay there for the others to steal; those in its inbox reject.
 */
import { WorkerCrashedError } from "../errors.ts";
import { ID_GEN_SHIFT, ID_SLOT_MASK, REC_ID, REC_WORDS, TASK_GEN_MASK, WORKER_CHUNK_AT, WORKER_RUNNING, chunkItemOf } from "../shm/layout.ts";
import type { TaskPool } from "./task-pool.ts";

export function repairAfterDeath(pool: TaskPool, index: number, detail: string, unexpected = true): void {
  const { control, queues, main } = pool;
  const w = control.w;
  if (unexpected && !pool.closing) {
    // Not one the pool ended itself (stuck, retired, closing): a crash, process.exit, out of memory. Said every time: a crash loop must show.
    pool.counts.deaths++;
    console.error(`bun-thread-manager: pool "${pool.name}": thread ${index} exited unexpectedly (${detail}); ${pool.seats.replacesOnDeath(index) ? "a replacement starts in its seat" : "its seat stays free"} (counted in metrics().deaths)`);
  }
  control.seatGone(index);
  // Join owners waiting for a half this thread took: the frame says so (not the seat, which a
  // replacement makes live again), then they are woken to look.
  control.orphanFramesOf(index);
  for (let i = 0; i < pool.threads; i++) if (i !== index) queues.idle.unpark(i);
  main.pump.drain();
  const chunkWord = w[control.workerWord(index, WORKER_CHUNK_AT)]!; // CHUNK-K2: a map chunk sends the items it never started again
  for (const [slot] of main.tasks.inUse()) {
    if (main.tasks.runnerOf(slot) !== index) continue;
    main.tasks.entry(slot)?.settle.died?.(chunkItemOf(chunkWord, slot));
    failTask(pool, slot, new WorkerCrashedError(pool.name, index, detail));
  }
  failInbox(pool, index, detail);
  pool.reaper.runnerDied(index, chunkWord); // other threads' tasks it ran: their submitters are told
  const searching = control.takeSearching(index);
  Atomics.store(w, control.workerWord(index, WORKER_RUNNING), 0);
  queues.idle.releaseDeadWorker(index, searching);
  if (pool.closing || !pool.seats.replacesOnDeath(index)) return; // a standalone seat stays free: the manager asks again if needed
  replace(pool, index, RETRY_FIRST_MS);
  main.pump.schedule();
}

/**
 * INBOX-K1: the records in a dead thread's inbox are main-thread tasks whose arguments were mailed
 * to that thread, and died with it: they reject with WorkerCrashedError before a replacement can
 * take one (it would wait for mail that never comes).
 */
function failInbox(pool: TaskPool, index: number, detail: string): void {
  const { queues, main } = pool;
  const rec = new Int32Array(REC_WORDS);
  while (queues.takeFromInbox(index, rec)) {
    const id = rec[REC_ID]!;
    const slot = id & ID_SLOT_MASK;
    if (main.tasks.lookup(slot, (id >>> ID_GEN_SHIFT) & TASK_GEN_MASK) === undefined) continue;
    failTask(pool, slot, new WorkerCrashedError(pool.name, index, detail, "before running this task, which waited for it with its argument mailed to it"));
  }
  queues.resetInbox(index); // a take it died in may have left a cell claimed and never freed
}

/** Rejects the main-thread task in `slot` with `error` and frees the slot; counted as crashed unless it was settled already (aborted). */
function failTask(pool: TaskPool, slot: number, error: WorkerCrashedError): void {
  const { main } = pool;
  if (!main.tasks.entry(slot)?.settled) main.counts.crashed++;
  main.settle(slot, (x) => x.reject(error));
  main.closeTask(slot);
}

/** A replacement that fails to load is tried again, after 1 s, then twice as long each time up to 30 s. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** Starts a thread in seat `index`; on failure logs it (naming the pool), counts it, and tries again later. */
function replace(pool: TaskPool, index: number, retryMs: number): void {
  if (pool.closing || !pool.workers.isFree(index)) return;
  pool.workers.start(index).then(
    () => pool.queues.idle.notifyOne(),
    (e) => {
      if (pool.closing) return;
      pool.counts.replaceFailures++;
      console.error(`bun-thread-manager: pool "${pool.name}": the replacement for thread ${index} failed to start (trying again in ${retryMs / 1000} s; counted in metrics().replaceFailures):`, (e as Error)?.message ?? e);
      const retry = setTimeout(() => replace(pool, index, Math.min(RETRY_MAX_MS, retryMs * 2)), retryMs);
      if (pool.pending === 0) retry.unref(); // tasks waiting for the seat keep the process alive for it; an idle pool does not
    },
  );
}
