/*
 * Deque, oldest first (src/shm/deque.ts takeOldest; PROTOCOL.md "Deque", DQ-O6): the owner takes
 * from the top as well as popping from the bottom, capacity 2, 2 thieves. The owner runs injected
 * batches from the top (FIFO) and takes join halves back from the bottom, in any interleaving.
 * Checks: every record taken exactly once; none lost; nobody stuck.
 * MUTANT: the owner's take-oldest moves TOP with a plain store ("only I push, so the top is mine
 * too"): a thief that read the same top takes the record as well.
 */
#define CAP 2
#define N 3
#include "liveness.inc"

short top = 0;
short bottom = 0;
byte slot[CAP];
byte taken[N + 1];
byte done = 0;

inline take(v) { atomic { taken[v]++; assert(taken[v] == 1); done++ } }

proctype owner() {
  byte next = 1, v;
  short b, t, topSeen = 0;
  bool won;
  do
  :: next <= N ->                                  /* push */
     if
     :: bottom - topSeen >= CAP -> topSeen = top   /* DQ O1 */
     :: else -> skip
     fi;
     if
     :: bottom - topSeen < CAP ->
        slot[bottom % CAP] = next;
        bottom = bottom + 1;                       /* DQ O2 */
        next++
     :: else -> skip
     fi
  :: bottom - top > 0 ->                           /* take the oldest (the guard only waits for work) */
     t = top;
     topSeen = t;
     if
     :: bottom - t > 0 ->
        v = slot[t % CAP];
#ifdef MUTANT
        top = t + 1; won = true;                   /* MUTANT: no CAS */
#else
        atomic { won = (top == t); if :: won -> top = t + 1 :: else -> skip fi }   /* DQ O6 CAS */
#endif
        if :: won -> take(v) :: else -> skip fi    /* lost: a thief took it; look again */
     :: else -> skip
     fi
  :: bottom - top > 0 ->                           /* pop the newest (a join taking its half back) */
     b = bottom - 1;
     bottom = b;                                   /* DQ O3 */
     t = top;
     topSeen = t;
     if
     :: b - t < 0 -> bottom = b + 1
     :: b - t > 0 -> v = slot[b % CAP]; take(v)
     :: b == t ->
        v = slot[b % CAP];
        atomic { won = (top == t); if :: won -> top = t + 1 :: else -> skip fi }   /* DQ O4 */
        if :: won -> take(v) :: else -> skip fi;
        bottom = t + 1
     fi
  :: next > N && done == N -> break
  od
}

proctype thief() {
  short t, b;
  byte v;
  bool won;
  do
  :: done == N -> break
  :: else ->
     (done == N || bottom - top > 0);
     t = top;                                      /* DQ T1 */
     b = bottom;
     if
     :: b - t > 0 ->
        v = slot[t % CAP];
        atomic { won = (top == t); if :: won -> top = t + 1 :: else -> skip fi }   /* DQ T2 */
        if :: won -> take(v) :: else -> skip fi
     :: else -> skip
     fi
  od
}

init {
  byte i;
  atomic { run owner(); run thief(); run thief() }
  OTHERS_DONE;
  for (i : 1 .. N) { assert(taken[i] == 1) };
  finished = true
}
