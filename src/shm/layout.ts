/**
 * Every offset and field index of every shared structure, in one place, imported by the main
 * thread and by workers alike. All structures are arrays of Int32 words (Atomics works on them);
 * an index below is a word index relative to the structure's own start (`byteOffset`).
 *
 * Words written by different parties sit on different 128-byte lines: x86 prefetches lines in
 * adjacent pairs, so 64-byte padding still lets a producer's and a consumer's word interfere.
 * See PROTOCOL.md for what each word means and who may write it.
 */
import { InvalidArgumentError, SharedLayoutError } from "../errors.ts";

export const WORD_BYTES = 4;
export const LINE_BYTES = 128;
/** Words per padded line. */
export const LINE = LINE_BYTES / WORD_BYTES;

/** Largest ring capacity: positions are int32 and compared by wrapping difference, so a ring must stay below 2^30. */
export const MAX_CAPACITY = 1 << 24;
/** Largest task record, in words. */
export const MAX_RECORD_WORDS = 15;

/** Common header words, line 0 of every structure, written once at init and read-only after. */
export const HDR_MAGIC = 0;

// ---- Injector: bounded MPMC queue (Vyukov), cells of [seq, record...] ----
export const INJECTOR_MAGIC = 0x494e4a31; // "INJ1"
export const INJ_CAPACITY = 1;
export const INJ_RECORD_WORDS = 2;
/** Words per cell: 1 sequence word + the record, rounded up to a power of two so a cell index is a shift. */
export const INJ_STRIDE = 3;
/** Producers' claim position (CAS by any producer). */
export const INJ_TAIL = LINE;
/** Consumers' claim position (CAS by any consumer). */
export const INJ_HEAD = 2 * LINE;
/** First cell. Cell i starts at INJ_CELLS + i * stride; word 0 is its sequence number. */
export const INJ_CELLS = 3 * LINE;

export function injectorStride(recordWords: number): number {
  return nextPowerOfTwo(recordWords + 1);
}
export function injectorBytes(capacity: number, recordWords: number): number {
  return (INJ_CELLS + capacity * injectorStride(recordWords)) * WORD_BYTES;
}

// ---- Work-stealing deque (Chase-Lev), slots of [record...] ----
export const DEQUE_MAGIC = 0x44455131; // "DEQ1"
export const DEQ_CAPACITY = 1;
export const DEQ_RECORD_WORDS = 2;
export const DEQ_STRIDE = 3;
/** Thieves' end: advanced only by CAS (thieves, and the owner taking the last item or overflowing). */
export const DEQ_TOP = LINE;
/** Owner's end: written only by the owner, read by thieves. */
export const DEQ_BOTTOM = 2 * LINE;
export const DEQ_SLOTS = 3 * LINE;

export function dequeStride(recordWords: number): number {
  return nextPowerOfTwo(recordWords);
}
export function dequeBytes(capacity: number, recordWords: number): number {
  return (DEQ_SLOTS + capacity * dequeStride(recordWords)) * WORD_BYTES;
}

// ---- Payload arena: size classes, each with a free ring of block indices and a data region ----
export const ARENA_MAGIC = 0x41524e31; // "ARN1"
export const ARENA_NUM_CLASSES = 1;
export const ARENA_TOTAL_BYTES = 2;
/** The segment number this arena's handles carry. */
export const ARENA_SEGMENT = 3;
/** Class table: ARENA_CLASS_FIELDS words per class. */
export const ARENA_CLASSES = 2 * LINE;
export const ARENA_CLASS_FIELDS = 5;
export const ACLS_BLOCK_BYTES = 0;
export const ACLS_COUNT = 1;
/** Byte offset of the class's free ring (an Injector of 1-word records), relative to the arena. */
export const ACLS_RING_OFFSET = 2;
/** Byte offset of the class's first block, relative to the arena. */
export const ACLS_DATA_OFFSET = 3;
/** Byte offset of the class's block-state words (BLOCK_FREE / BLOCK_USED, one per block). */
export const ACLS_STATE_OFFSET = 4;
export const BLOCK_FREE = 0;
export const BLOCK_USED = 1;
export const ARENA_MAX_CLASSES = 32;
/** A handle is segment << ARENA_SEGMENT_SHIFT | class << ARENA_CLASS_SHIFT | block index: never negative. */
export const ARENA_CLASS_SHIFT = 20;
export const ARENA_INDEX_MASK = (1 << ARENA_CLASS_SHIFT) - 1;
export const ARENA_SEGMENT_SHIFT = 25;
export const ARENA_MAX_SEGMENTS = 64;

// ---- Idle coordination: searching/sleeping counters and one park word per worker ----
export const IDLE_MAGIC = 0x49444c31; // "IDL1"
export const IDLE_NUM_WORKERS = 1;
/** Workers spinning for work (at most max(1, n/2)); read by every producer. */
export const IDLE_SEARCHING = LINE;
/** Workers that announced they park; read by every producer. Same line: producers read both. */
export const IDLE_SLEEPING = LINE + 1;
/** 1 once the pool shuts down. */
export const IDLE_SHUTDOWN = LINE + 2;
/** Park word of worker i at IDLE_PARK_WORDS + i * LINE; values are PARK_* below. */
export const IDLE_PARK_WORDS = 2 * LINE;
export const PARK_AWAKE = 0;
export const PARK_PARKED = 1;
export const PARK_NOTIFIED = 2;
/**
 * Manager gate of worker i, beside its park word: a dynamic thread with nothing to do waits here,
 * outside the park protocol, so producers' notifyOne never wakes it; only the pool manager (or
 * shutdown) opens it. Values are GATE_* below.
 */
export const IDLE_GATE = 1;
export const GATE_OPEN = 0;
export const GATE_CLOSED = 1;

/** Word index of worker i's manager gate within the idle state. */
export function gateWord(i: number): number {
  return IDLE_PARK_WORDS + i * LINE + IDLE_GATE;
}

export function idleBytes(workers: number): number {
  return (IDLE_PARK_WORDS + workers * LINE) * WORD_BYTES;
}

// ---- helpers shared by the structures ----

export function nextPowerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Validates a ring capacity: a power of two in [2, MAX_CAPACITY]. */
export function checkCapacity(parameter: string, capacity: unknown): number {
  if (typeof capacity !== "number" || !Number.isInteger(capacity)) {
    throw new InvalidArgumentError(parameter, `must be an integer, got ${String(capacity)}`);
  }
  if (capacity < 2) throw new InvalidArgumentError(parameter, `must be at least 2, got ${capacity}`);
  if (capacity > MAX_CAPACITY) {
    throw new InvalidArgumentError(parameter, `must be at most ${MAX_CAPACITY}, got ${capacity}`);
  }
  if ((capacity & (capacity - 1)) !== 0) {
    throw new InvalidArgumentError(
      parameter,
      `must be a power of two, got ${capacity} (nearest: ${nextPowerOfTwo(capacity)})`,
    );
  }
  return capacity;
}

export function checkRecordWords(parameter: string, recordWords: unknown): number {
  if (
    typeof recordWords !== "number" ||
    !Number.isInteger(recordWords) ||
    recordWords < 1 ||
    recordWords > MAX_RECORD_WORDS
  ) {
    throw new InvalidArgumentError(
      parameter,
      `must be an integer in 1..${MAX_RECORD_WORDS}, got ${String(recordWords)}`,
    );
  }
  return recordWords;
}

/** Checks that `bytes` starting at `byteOffset` fit in `buffer`; names the structure on failure. */
export function checkRoom(what: string, buffer: SharedArrayBuffer, byteOffset: number, bytes: number): void {
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new InvalidArgumentError(`${what}.buffer`, "must be a SharedArrayBuffer");
  }
  if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0) {
    throw new InvalidArgumentError(`${what}.byteOffset`, `must be a non-negative multiple of 8, got ${byteOffset}`);
  }
  if (byteOffset + bytes > buffer.byteLength) {
    throw new InvalidArgumentError(
      `${what}.capacity`,
      `needs ${bytes} bytes at offset ${byteOffset}, but the buffer has ${buffer.byteLength}`,
    );
  }
}

/** Where a structure lives: what a worker needs to attach to it. Structured-clone safe. */
export interface SharedRef {
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
}

/** Wraps the header line of a structure and checks its magic word. */
export function attachHeader(what: string, ref: SharedRef, magic: number): Int32Array {
  if (!(ref?.buffer instanceof SharedArrayBuffer)) {
    throw new SharedLayoutError(`${what}: attach needs { buffer: SharedArrayBuffer, byteOffset }`);
  }
  if (ref.byteOffset + LINE_BYTES > ref.buffer.byteLength) {
    throw new SharedLayoutError(`${what}: buffer too small to hold a header at offset ${ref.byteOffset}`);
  }
  const header = new Int32Array(ref.buffer, ref.byteOffset, LINE);
  if (Atomics.load(header, HDR_MAGIC) !== magic) {
    throw new SharedLayoutError(
      `${what}: no ${what} at byte offset ${ref.byteOffset} (magic word is 0x${(header[HDR_MAGIC]! >>> 0).toString(16)})`,
    );
  }
  return header;
}

// ---- Pool control block: main doorbell, per-worker words, task states, join frames ----
export const POOL_MAGIC = 0x504f4c31; // "POL1"
export const POOL_WORKERS = 1;
export const POOL_SLOTS = 2;
export const POOL_JOIN_DEPTH = 3;
/** 1 while the main thread is (about to be) asleep on POOL_DOORBELL; a completer that swaps it to 0 rings. */
export const POOL_MAIN_WAITING = LINE;
/** Bumped and notified to wake the main thread for completions. */
export const POOL_DOORBELL = LINE + 1;
/** 1 while the main thread submits again right after completions arrive (a tight loop): workers keep spinning. */
export const POOL_MAIN_HOT = LINE + 2;
/** 1 when a worker mailed the main thread something it should read (and maybe relay) soon. */
export const POOL_MAIN_MAIL = LINE + 3;
/** Scaling line: written by the main thread and the pool manager, read by both. */
const POOL_SCALING = 2 * LINE;
/** Tasks submitted since the pool manager last looked: submitters add, the manager swaps it to 0. */
export const POOL_ARRIVALS = POOL_SCALING;
/** Standalone threads the manager asked for that the main thread has not started (or given up on) yet. */
export const POOL_SPAWNS_WANTED = POOL_SCALING + 1;
/** Per-worker line at POOL_WORKER_INFO + i * LINE. */
export const POOL_WORKER_INFO = 3 * LINE;
/** WORKER_* words inside a worker's line. */
export const WORKER_ALIVE = 0; // 1 while the thread lives; the main thread writes 0 when it died
export const WORKER_TID = 1; // kernel thread id, written by the worker at start
export const WORKER_SEARCHING = 2; // 1 while the worker holds a searcher slot (crash repair)
export const WORKER_RUNNING = 3; // tasks the worker is running right now
export const WORKER_EXECUTED = 4; // tasks the worker has claimed to run, ever (metrics; exactly-once checks)
export const WORKER_STOLEN = 5; // join and range halves this worker ran for another worker
export const WORKER_MAIL = 6; // 1 when the main thread mailed this worker since it last read its mail
export const WORKER_FAULTS = 7; // uncaught exceptions and unhandled rejections no task could be blamed for
export const WORKER_FINISHED = 8; // tasks the worker has posted a completion for, ever (the pool manager's completions)
export const WORKER_CHUNK_ITEMS = 9; // map chunk items the worker has started, ever: a chunk that moves on is not stuck (task_timeout_ms)
export const WORKER_CHUNK_AT = 10; // chunkAt(slot, item): the map chunk the worker steps through and the item it started last; crash repair sends the rest again

/**
 * WORKER_CHUNK_AT packs the chunk's task slot (+1) above the item it started last (+1; 0: none
 * yet), so one plain store moves both and crash repair never pairs an item with the wrong chunk.
 * A chunk whose item joins may run another map's chunk on the same thread while it waits: the
 * word is then the inner chunk's until it ends and puts the outer one's back (CHUNK K1).
 */
const CHUNK_AT_ITEM_BITS = 9; // items 0..MAX_CHUNK - 1 (256), +1
/** What crash repair passes when the word is another chunk's: not known, so every item counts as started (none runs twice). */
const CHUNK_AT_UNKNOWN = 0x7fffffff;
export function chunkAt(slot: number, item: number): number {
  return ((slot + 1) << CHUNK_AT_ITEM_BITS) | (item + 1);
}
/** The item the chunk in `slot` started last (-1: none), or CHUNK_AT_UNKNOWN if the word is not that chunk's. */
export function chunkItemOf(word: number, slot: number): number {
  return word >>> CHUNK_AT_ITEM_BITS === slot + 1 ? (word & ((1 << CHUNK_AT_ITEM_BITS) - 1)) - 1 : CHUNK_AT_UNKNOWN;
}

/**
 * Task state word, one per task slot: gen << 16 | runner << 4 | state.
 * A task record names its slot and generation; the state word says whether it may still run.
 */
/** The state field (TS_* below); bit 3 is TS_ABORT_FLAG. */
export const TS_STATE_MASK = 7;
export const TASK_RUNNER_SHIFT = 4;
export const TASK_RUNNER_MASK = 0xfff;
export const TASK_GEN_SHIFT = 16;
export const TASK_GEN_MASK = 0x3ff; // 10 bits: the generation also rides in REC_ID bits 20-29 (bit 30 marks join halves)
export const TS_FREE = 0;
export const TS_QUEUED = 1;
export const TS_RUNNING = 2;
export const TS_CANCELLED = 3;
/** Set on top of RUNNING when the caller aborted: the handler may poll ctx.signal. */
export const TS_ABORT_FLAG = 8;

/** Join frame: JOIN_FRAME_WORDS words per (worker, depth), written by the thief that ran the other half. */
export const JOIN_FRAME_WORDS = 9;
export const JF_STATE = 0; // JF_* below
export const JF_TYPE = 1; // result type word (codec)
export const JF_A = 2;
export const JF_B = 3;
export const JF_GRAIN = 4; // parallelFor: grain of the range being split
export const JF_ARG_TYPE = 5; // parallelFor: the shared argument, encoded once
export const JF_ARG_A = 6;
export const JF_ARG_B = 7;
export const JF_TASK = 8; // the owner's task (slot | gen << 20): a thief's ctx.signal follows that task's abort flag
// Frame state word: state (4 bits) | thief << 4 (12 bits) | generation << 16 (10 bits, also in the half's record id).
export const JFS_IDLE = 0; // no half out, or its result was read
export const JFS_PENDING = 1;
export const JFS_TAKEN = 2; // | thief << 4
export const JFS_DONE = 3;
export const JFS_FAILED = 4; // the other half threw; JF_TYPE/A/B hold the encoded error
export const JFS_ORPHANED = 5; // | thief << 4: the thief died while running it (crash repair)
export const JFS_WRITING = 6; // | thief << 4: the thief writes the result words
export const JFS_PREPARING = 7; // the owner writes the range words of a new generation
export const JF_THIEF_SHIFT = 4;
export const JF_GEN_SHIFT = 16;
export const JOIN_GEN_MASK = 0x3ff; // 10 bits

// ---- Submitter lanes: one per thread that submits to a pool (lane 0: the main thread) ----
export const LANES_MAGIC = 0x4c4e5331; // "LNS1"
export const LANES_COUNT = 1;
/** Task slots of lane 0 (the main thread): [0, LANES_MAIN_SLOTS). */
export const LANES_MAIN_SLOTS = 2;
/** Task slots of every other lane, a power of two: lane l >= 1 has [main + (l-1) * n, main + l * n). */
export const LANES_LANE_SLOTS = 3;
/** log2(LANES_LANE_SLOTS). */
export const LANES_LANE_SHIFT = 4;
/** Pool line: written by the main thread only. */
export const LANES_POOL = LINE;
/** 1 once the pool is closing: thread submitters refuse new tasks with PoolClosedError. */
export const LANES_CLOSING = LANES_POOL;
/** 1 once the pool's threads have stopped: nothing pending will complete any more. */
export const LANES_STOPPED = LANES_POOL + 1;
/** Per-lane line at LANES_FIRST + lane * LINE (lane 0's line is unused: main's words live in the control block). */
export const LANES_FIRST = 2 * LINE;
/** LANE_* words inside a lane's line. */
export const LANE_STATE = 0; // LANE_FREE, or owner token << 2 | LANE_HELD / LANE_REAPING
export const LANE_WAITING = 1; // 1 while the owner announced a sleep on LANE_DOORBELL (src/shm/doorbell.ts)
export const LANE_DOORBELL = 2;
export const LANE_PENDING = 3; // tasks the owner submitted that have not completed (written by the owner)
export const LANE_SUBMITTED = 4; // tasks the owner ever submitted (written by the owner; metrics)
export const LANE_COMPLETED = 5; // of those, resolved (written by the owner after each drain; metrics)
export const LANE_FAILED = 6; // rejected because the handler threw or its result could not be sent (likewise)
export const LANE_CANCELLED = 7; // rejected by an abort or by the pool's close (likewise)
export const LANE_CRASHED = 8; // rejected because the thread running it died (likewise)
export const LANE_SHED_BUSY = 9; // run() refused with PoolBusyError (likewise)
export const LANE_SHED_CLOSED = 10; // run() refused with PoolClosedError (likewise)
export const LANE_FREE = 0;
export const LANE_HELD = 1;
export const LANE_REAPING = 2;
export const LANE_TAG_MASK = 3;
export const LANE_TOKEN_SHIFT = 2;
/** Largest submitting-thread token (tokens ride in LANE_STATE above the 2 tag bits). */
export const MAX_LANE_TOKEN = (1 << 29) - 1;

export function lanesBytes(lanes: number): number {
  return (LANES_FIRST + lanes * LINE) * WORD_BYTES;
}

// ---- Task and completion records (4 words) ----
export const REC_WORDS = 4;
/** Pool task: slot | gen << 20. Join/range half: JOIN_BIT | frame generation << 20 | owner << 8 | depth. */
export const REC_ID = 0;
/** handler id (12 bits) | value type (11 bits) << 12 | record kind (2 bits) << 23. Completions: status | type << 12. */
export const REC_OP = 1;
export const REC_A = 2;
export const REC_B = 3;
export const ID_SLOT_MASK = 0xfffff;
export const ID_GEN_SHIFT = 20;
export const ID_JOIN_BIT = 1 << 30;
export const ID_OWNER_SHIFT = 8;
export const ID_JOIN_DEPTH_MASK = 0xff;
export const ID_JOIN_GEN_SHIFT = 20;
/** Join frames per thread at most: the depth field of a half's id. */
export const MAX_JOIN_DEPTH = 256;
export const OP_HANDLER_MASK = 0xfff;
export const OP_TYPE_SHIFT = 12;
export const OP_TYPE_MASK = 0x7ff;
export const OP_KIND_SHIFT = 23;
export const KIND_TASK = 0;
export const KIND_JOIN = 1;
export const KIND_RANGE = 2;
/** Items of one map() batch under one record (src/submit/task-chunk.ts): argument flags + 3 words per item, result 4 per item. */
export const KIND_CHUNK = 3;
/** Per item of a chunk's argument: its (type, a, b), as a task record holds its argument. */
export const CHUNK_ARG_WORDS = 3;
/** A chunk's flags word: stop at the first item that throws (the batch rejects there anyway). */
export const CHUNK_STOP_AT_ERROR = 1;
/** Per item of a chunk's result: status (a DONE_ code; DONE_SKIPPED: not run), type, a, b. */
export const CHUNK_ITEM_WORDS = 4;
/** Completion status (low bits of REC_OP in a completion record). */
export const DONE_OK = 0;
export const DONE_THREW = 1;
export const DONE_SKIPPED = 2; // the task was cancelled before it ran; the slot may be reused
export const DONE_UNSENDABLE = 3; // the result could not be sent; (type, a, b) hold the DataCloneError's message
/** Posted by the main thread for a thread submitter's task whose runner died: A holds the runner's index. */
export const DONE_CRASHED = 4;

export function poolControlBytes(workers: number, slots: number, joinDepth: number): number {
  const frames = alignUp(poolTaskStatesWord(workers) + slots, LINE);
  return (frames + workers * joinDepth * JOIN_FRAME_WORDS) * WORD_BYTES;
}
/** Word index of the first task state word. */
export function poolTaskStatesWord(workers: number): number {
  return POOL_WORKER_INFO + workers * LINE;
}
/** Word index of the join frame of (worker, depth). */
export function poolJoinFrameWord(workers: number, slots: number, joinDepth: number, worker: number, depth: number): number {
  return alignUp(poolTaskStatesWord(workers) + slots, LINE) + (worker * joinDepth + depth) * JOIN_FRAME_WORDS;
}
