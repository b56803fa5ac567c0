/*
 * Deque spill and batch steals (src/shm/deque.ts; PROTOCOL.md "Deque", DQ-O5 and DQ-T3):
 * capacity 4. The owner pushes 5 records (a full deque spills its older half to the injector with
 * one CAS over 2 slots, DQ-O5) and pops LIFO; a thief steals batches of up to half the deque, one
 * CAS per record (DQ-T3). A record moved to the injector counts as taken there (the injector model
 * proves its pops exactly-once). Waiting for work is a guard, so a lost record is an invalid end
 * state.
 * Checks: every record taken exactly once (by a pop, a steal or the spill); none lost.
 * MUTANT: the batch trusts its first look at BOTTOM for every record (the root of the one-CAS
 * batch bug, DQ T3): the owner pops records above TOP meanwhile without a CAS (each pop sees more
 * than one record), the thief's next CAS on TOP still wins, and it takes a popped record again.
 */
#define CAP 4
#define HALF 2
#define N 5
#include "liveness.inc"

short top = 0;
short bottom = 0;
byte slot[CAP];
byte taken[N + 1];
byte done = 0;

inline take(v) { atomic { taken[v]++; assert(taken[v] == 1); done++ } }

proctype owner() {
  byte next = 1, v, k, n, copy[HALF];
  short b, t, topSeen = 0;
  bool won;
  do
  :: next <= N ->                                  /* push */
     if
     :: bottom - topSeen >= CAP -> topSeen = top   /* DQ-O1: maybe full: read TOP */
     :: else -> skip
     fi;
     if
     :: bottom - topSeen >= CAP ->                 /* full: spill the older half (DQ-O5) */
        t = top;
        do
        :: n = (bottom - t < HALF -> bottom - t : HALF);
           k = 0;
           do :: k < n -> copy[k] = slot[(t + k) % CAP]; k++ :: else -> break od;
           atomic { won = (top == t); if :: won -> top = t + n :: else -> t = top fi };   /* one CAS over n slots */
           if :: won -> break :: else -> skip fi
        od;
        k = 0;
        do :: k < n -> take(copy[k]); k++ :: else -> break od;   /* into the injector */
        topSeen = t + n
     :: else -> skip
     fi;
     slot[bottom % CAP] = next;                    /* DQ-O2: write the slot, then publish */
     bottom = bottom + 1;
     next++
  :: bottom - top > 0 ->                           /* pop */
     b = bottom - 1;
     bottom = b;                                   /* DQ-O3: store BOTTOM, then load TOP */
     t = top;
     topSeen = t;
     if
     :: b - t < 0 -> bottom = b + 1
     :: b - t > 0 -> v = slot[b % CAP]; take(v)
     :: b == t ->
        v = slot[b % CAP];
        atomic { won = (top == t); if :: won -> top = t + 1 :: else -> skip fi };  /* DQ-O4 */
        if :: won -> take(v) :: else -> skip fi;
        bottom = t + 1
     fi
  :: next > N && done == N -> break
  od
}

proctype thief() {
  short t, b;
  byte v, want, got;
  bool won;
  do
  :: done == N -> break
  :: else ->
     (done == N || bottom - top > 0);
     t = top; b = bottom;                          /* the batch size: half of what it holds */
     want = ((b - t) / 2 > 1 -> (b - t) / 2 : 1);
     want = (want > HALF -> HALF : want);
     got = 0;
     do                                            /* DQ-T3: one steal (DQ-T1, DQ-T2) per record */
     :: got < want ->
#ifndef MUTANT
        t = top; b = bottom;
#else
        t = top;                                   /* MUTANT: BOTTOM from the batch's first look */
#endif
        if
        :: b - t > 0 ->
           v = slot[t % CAP];
           atomic { won = (top == t); if :: won -> top = t + 1 :: else -> skip fi };
           if :: won -> take(v); got++ :: else -> break fi
        :: else -> break
        fi
     :: else -> break
     od
  od
}

init {
  byte i;
  atomic { run owner(); run thief() }
  OTHERS_DONE;
  for (i : 1 .. N) { assert(taken[i] == 1) };
  finished = true
}
