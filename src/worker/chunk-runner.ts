/**
 * Worker side of a map() chunk (src/submit/task-chunk.ts): many items of one handler under one task
 * record. The argument is a word array: flags, then each item's encoded argument (type, a, b).
 * Each item is decoded and run as its own call, in order, and its outcome is encoded on its own
 * (the same encoding, limits and refusals as a task's result) into CHUNK_ITEM_WORDS words: status,
 * type, a, b. The words go back as the chunk's one result (WorkerCore.succeedChunk).
 *
 * What a chunk saves over one task per item is everything per record: a slot, a claim, a
 * completion, a promise. What it keeps per item: the call, the result's encoding, its error.
 *
 * Items stop early when the task is aborted (the batch was cancelled), with CHUNK_STOP_AT_ERROR
 * after the first item that failed (the batch rejects with it), or past the chunk's budget: about
 * CHUNK_BUDGET_MS of running, or CHUNK_RESULT_BYTES of results in the arena. The items left say
 * DONE_SKIPPED and never run; after a budget stop the batch submits them again (in smaller
 * chunks), so slow items spread over the threads and a thread's death strands little.
 * At least one item runs per chunk, so a batch always moves on.
 */
import { CHUNK_ARG_WORDS, CHUNK_ITEM_WORDS, CHUNK_STOP_AT_ERROR, DONE_OK, DONE_SKIPPED, ID_SLOT_MASK, chunkAt } from "../shm/layout.ts";
import type { ValueCodec } from "../common/codec.ts";
import type { WorkerCore } from "./worker-core.ts";

/** A chunk stops starting items after running this long: slow items then go a few at a time and spread over the threads. */
const CHUNK_BUDGET_MS = 1;
/** ... or once its items' results took this much arena (what a death mid-chunk would strand). */
const CHUNK_RESULT_BYTES = 64 << 10;

export function runChunk(core: WorkerCore, id: number, h: number, arg: unknown, call: (h: number, arg: unknown) => unknown): Int32Array {
  if (!(arg instanceof Int32Array) || arg.length % CHUNK_ARG_WORDS !== 1) {
    throw new TypeError(`pool "${core.pool}": a map chunk for handler "${core.handlerNames[h]}" arrived malformed`);
  }
  const n = (arg.length - 1) / CHUNK_ARG_WORDS;
  const stopAtError = (arg[0]! & CHUNK_STOP_AT_ERROR) !== 0;
  const control = core.control.w;
  const atWord = core.chunkAtWord;
  const outer = control[atWord]!; // a chunk whose item joins may run this one while it waits: its word comes back at the end
  const slot = id & ID_SLOT_MASK;
  control[atWord] = chunkAt(slot, -1); // CHUNK-K1: no item of this chunk started yet
  try {
    return runItems(core, id, h, arg, n, stopAtError, call, slot);
  } finally {
    control[atWord] = outer;
  }
}

function runItems(core: WorkerCore, id: number, h: number, arg: Int32Array, n: number, stopAtError: boolean, call: (h: number, arg: unknown) => unknown, slot: number): Int32Array {
  const control = core.control.w;
  const atWord = core.chunkAtWord;
  // CHUNK-W1: every argument is decoded (its block freed) first: items a stop or this thread's death leaves unrun hold nothing.
  const values = new Array<unknown>(n);
  let undecodable: Map<number, unknown> | undefined; // item -> why its argument could not be decoded (rare)
  for (let i = 0; i < n; i++) {
    const from = 1 + i * CHUNK_ARG_WORDS;
    try {
      values[i] = core.codec.take(arg[from]!, arg[from + 1]!, arg[from + 2]!);
    } catch (e) {
      (undecodable ??= new Map()).set(i, e);
    }
  }
  const words = new Int32Array(new ArrayBuffer(n * CHUNK_ITEM_WORDS * 4)); // over its own buffer: the codec reads `.buffer`
  const outcome = core.outcome;
  const itemsWord = core.chunkItemsWord;
  const start = performance.now();
  let slow = false;
  let resultBytes = 0;
  let i = 0;
  for (; i < n; i++) {
    if (core.abortRequested(id)) break; // as for tasks of their own: no item starts after the batch was cancelled
    control[itemsWord]++; // CHUNK-T1: an item starts (own word, plain; the stuck-task watch reads it)
    control[atWord] = chunkAt(slot, i);
    let ok = undecodable === undefined || !undecodable.has(i);
    let value = ok ? values[i] : undecodable!.get(i);
    if (ok) {
      try {
        value = call(h, value);
      } catch (e) {
        ok = false;
        value = e;
      }
    }
    const at = i * CHUNK_ITEM_WORDS;
    const status = core.encodeOutcome(id, h, ok, value);
    words[at] = status;
    words[at + 1] = outcome[0]!;
    words[at + 2] = outcome[1]!;
    words[at + 3] = outcome[2]!;
    if (stopAtError && status !== DONE_OK) {
      i++;
      break;
    }
    resultBytes += core.outcomeBytes;
    // The clock every 16 items (a read costs a tiny item ~20%), or every item once the first took long.
    if (i === 0) slow = performance.now() - start > CHUNK_BUDGET_MS / 16;
    if (resultBytes >= CHUNK_RESULT_BYTES || ((slow || (i & 15) === 15) && performance.now() - start > CHUNK_BUDGET_MS)) {
      i++;
      break;
    }
  }
  for (; i < n; i++) words[i * CHUNK_ITEM_WORDS] = DONE_SKIPPED;
  return words;
}

/** A chunk cancelled before it ran: frees its items' arguments (the caller frees the words themselves by decoding them). */
export function releaseChunkArguments(codec: ValueCodec, words: unknown): void {
  if (!(words instanceof Int32Array)) return;
  for (let at = 1; at + 2 < words.length; at += CHUNK_ARG_WORDS) codec.release(words[at]!, words[at + 1]!);
}
