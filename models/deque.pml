/*
 * Deque (src/shm/deque.ts; PROTOCOL.md "Deque"): Chase-Lev with the owner's cached top (O1),
 * capacity 2. The owner pushes 3 records and pops; 2 thieves steal. Waiting for work is a guard,
 * so a lost record shows as an invalid end state.
 * Checks: every record taken exactly once; none lost; nobody stuck.
 * MUTANT: a steal without the CAS (DQ-T2 moves TOP with a plain store): two thieves, or a thief
 * and the owner's last-record pop, take the same record.
 */
#define CAP 2
#define N 3
#include "liveness.inc"

short top = 0;            /* TOP: advanced only by CAS (or the owner's spill, not modelled) */
short bottom = 0;         /* BOTTOM: written by the owner only */
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
     :: bottom - topSeen >= CAP -> topSeen = top   /* DQ-O1: maybe full: read TOP */
     :: else -> skip
     fi;
     if
     :: bottom - topSeen < CAP ->
        slot[bottom % CAP] = next;                 /* DQ-O2: write the slot */
        bottom = bottom + 1;                       /* DQ-O2: publish */
        next++
     :: else -> skip                               /* full: pop (below) makes room */
     fi
  :: bottom - top > 0 ->                           /* pop (the guard only waits for work) */
     b = bottom - 1;
     bottom = b;                                   /* DQ-O3: store BOTTOM ... */
     t = top;                                      /* DQ-O3: ... then load TOP */
     topSeen = t;
     if
     :: b - t < 0 -> bottom = b + 1                /* empty: restore */
     :: b - t > 0 -> v = slot[b % CAP]; take(v)    /* more than one: ours */
     :: b == t ->
        v = slot[b % CAP];
        atomic { won = (top == t); if :: won -> top = t + 1 :: else -> skip fi }   /* DQ-O4 CAS */
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
     (done == N || bottom - top > 0);              /* wait for something to steal */
     t = top;                                      /* DQ-T1: TOP, then BOTTOM */
     b = bottom;
     if
     :: b - t > 0 ->
        v = slot[t % CAP];                         /* copy the slot of t */
#ifdef MUTANT
        top = t + 1; won = true;                   /* MUTANT: no CAS */
#else
        atomic { won = (top == t); if :: won -> top = t + 1 :: else -> skip fi }   /* DQ-T2 CAS */
#endif
        if :: won -> take(v) :: else -> skip fi
     :: else -> skip                               /* empty */
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
