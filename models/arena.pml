/*
 * Arena admission and the progress rule (src/shm/arena.ts, src/main/admission.ts,
 * src/common/codec.ts; PROTOCOL.md "Arena" and "Progress"): a store of two size classes (2 blocks
 * of 1 unit, 1 block of 2 units: each class an equal share of the bytes, as sizeClassesFor lays
 * them out), at its cap (it cannot grow, as in the payload stress test). The main thread runs 3
 * tasks whose arguments are inline (no block: numbers, booleans), 1 or 2 units, chosen by Spin;
 * an argument that finds no room, or would take the arguments past half the store, waits in
 * Admission (FIFO) and main goes on. 2 pool threads claim records, free the argument's block, and place a result of 0, 1 or 2
 * units; with no block it travels as a parcel (postMessage: no block, never waits). Main drains
 * completions (frees result blocks, gives the argument's bytes back) and admits from the head.
 * The free rings are counters here: the injector model proves a ring hands each index out once.
 * Checks: every task runs once and completes; no wait cycle: a state where main waits for a
 * completion that cannot come, or a thread waits for a block nobody frees, is an invalid end state;
 * at the end every block is free and no argument byte is counted.
 * MUTANT: a result that finds no block waits for one (instead of the parcel path). Two inline
 * tasks run while a third's 2-unit argument (within the share: inline arguments hold no bytes)
 * takes the only big block; both threads' 2-unit results wait for it, and only a thread could
 * free it by claiming the third task: nothing moves. (The share alone does not prevent this: it
 * counts bytes, not blocks of one class.)
 */
#define T 3
#define W 2
#define SMALL 2
#define BIG 1
#define SHARE 2          /* half of the store's 4 units */
#define NONE 0           /* no block: inline, or a parcel */
#define SMALL_BLOCK 1
#define BIG_BLOCK 2
#include "liveness.inc"

byte freeSmall = SMALL, freeBig = BIG;
chan queue = [T] of { byte };
chan done = [T] of { byte };
byte argBlock[T], resBlock[T], runs[T];
bool mainDone = false;

/* ARENA-A1: the smallest class that fits, falling through to larger ones; got = NONE: no room. */
inline tryAlloc(size, got) {
  atomic {
    got = NONE;
    if
    :: size == 1 && freeSmall > 0 -> freeSmall--; got = SMALL_BLOCK
    :: else -> if :: size > 0 && freeBig > 0 -> freeBig--; got = BIG_BLOCK :: else -> skip fi
    fi
  }
}

/* ARENA-F1 */
inline free(block) {
  atomic { if :: block == SMALL_BLOCK -> freeSmall++ :: block == BIG_BLOCK -> freeBig++ :: else -> skip fi }
}

/* ARENA-M2: admit from the head while it finds room (FIFO); ARENA-M1: a head without room waits. */
inline admit() {
  do
  :: head < next ->
     placed = false;
     if
     :: argSize[head] == 0 -> argBlock[head] = NONE; placed = true
     :: argSize[head] > 0 && argBytes + argSize[head] <= SHARE ->   /* ARENA-S1: the arguments' share */
        tryAlloc(argSize[head], got);
        if :: got != NONE -> argBlock[head] = got; argBytes = argBytes + got; placed = true :: else -> skip fi
     :: else -> skip
     fi;
     if
     :: placed -> queue!head; pending++; head++
     :: else -> break                              /* ARENA-M1: it stays in Admission; main goes on */
     fi
  :: else -> break
  od
}

proctype main() {
  byte argSize[T], argBytes = 0, next = 0, head = 0, pending = 0, completed = 0, t, got;
  bool placed;
  do
  :: next < T ->                                   /* run(): a new task (alone: tried now; else behind the others) */
     if :: argSize[next] = 0 :: argSize[next] = 1 :: argSize[next] = 2 fi;
     next++;
     admit()
  :: done?t ->                                     /* a completion drained (TASK-S3) */
     free(resBlock[t]);
     argBytes = argBytes - argBlock[t];            /* ARENA-M4: its argument leaves the share */
     pending--; completed++;
     admit()                                       /* after every drain */
  :: completed == T -> break
  od;
  assert(head == T && pending == 0 && argBytes == 0 && freeSmall == SMALL && freeBig == BIG);
  mainDone = true
}

proctype worker() {
  byte t, size, got;
end:
  do
  :: queue?t ->                                    /* TASK-T1: claimed */
     runs[t]++;
     assert(runs[t] == 1);
     free(argBlock[t]);                            /* the argument is decoded and its block freed */
     if :: size = 0 :: size = 1 :: size = 2 fi;    /* the result */
#ifndef MUTANT
     tryAlloc(size, got);                          /* ARENA-W1: no block -> a parcel, nothing waits */
#else
     atomic { (size == 0 || (size == 1 && freeSmall + freeBig > 0) || freeBig > 0) -> tryAlloc(size, got) }
#endif
     resBlock[t] = got;
     done!t                                        /* TASK-T2 */
  od
}

init {
  atomic { run main(); run worker(); run worker() }
  mainDone;
  byte k = 0;
  do :: k < T -> assert(runs[k] == 1); k++ :: else -> break od;
  finished = true
}
