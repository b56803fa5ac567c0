/*
 * Inboxes (src/shm/pool-queues.ts submitTo, src/shm/work-finder.ts; PROTOCOL.md "Inboxes"): a
 * record that only worker 0 may run goes to its inbox, followed by a targeted unpark (INBOX-S2,
 * PARK-U1); a record any worker may run goes to the shared queue, followed by notifyOne. Worker 0
 * takes from its inbox before the shared queue (INBOX-W2) and its last look before sleeping sees
 * its inbox (INBOX-W1); worker 1 never looks at it. The park protocol is park.pml's (PARK-P1..P5,
 * searcher rules); queues are counters (taking is one atomic step, injector.pml proves it).
 * Producer: 2 inbox records and 1 shared one, interleaved, then shutdown when all are taken.
 * Checks: every record is taken once; no lost wake-up (a
 * sleeping worker 0 with its inbox non-empty is an invalid end state: the producer waits forever).
 * MUTANT: the producer wakes with notifyOne instead of unparking worker 0 (INBOX-S2): it may wake
 * worker 1, or nobody while worker 1 searches, and worker 0 sleeps on its record.
 */
#define W 2
#define TOTAL 3
#define MAX_SEARCHING 1
#define AWAKE 0
#define PARKED 1
#define NOTIFIED 2
#include "liveness.inc"

byte work = 0, inbox0 = 0, consumed = 0;
byte SEARCHING = 0, SLEEPING = 0;
bool SHUTDOWN = false;
byte park[W];

#include "notify-one.inc"

/* PARK-U1: wake worker i if it is parked, not as a searcher. */
inline unpark(i) {
  atomic { won = (park[i] == PARKED); if :: won -> park[i] = AWAKE :: else -> skip fi };
  if :: won -> SLEEPING-- :: else -> skip fi
}

proctype producer() {
  byte ib = 0, sh = 0, j, seen;
  bool won, found, last;
  do
  :: ib < 2 -> inbox0++;                            /* INBOX-S2: push, then wake worker 0 */
#ifndef MUTANT
     unpark(0);
#else
     notifyOne();
#endif
     ib++
  :: sh < 1 -> work++; notifyOne(); sh++            /* a record any worker may run */
  :: ib == 2 && sh == 1 -> break
  od;
  (consumed == TOTAL);
  SHUTDOWN = true;
  j = 0;
  do
  :: j < W -> unpark(j); j++
  :: else -> break
  od
}

proctype worker(byte i) {
  bool searching = false, won, found, last, took;
  byte j, seen, stop;
  do
  :: atomic {                                       /* INBOX-W2: own inbox, then the shared queue */
       took = (i == 0 && inbox0 > 0);
       if
       :: took -> inbox0--; consumed++
       :: else -> took = (work > 0); if :: took -> work--; consumed++ :: else -> skip fi
       fi
     };
     if
     :: took ->
        if
        :: searching ->                             /* PARK-S1 */
           atomic { SEARCHING--; last = (SEARCHING == 0) }; searching = false;
           seen = work;
           if :: last && seen > 0 -> notifyOne() :: else -> skip fi
        :: else -> skip
        fi
     :: else ->
        stop = SHUTDOWN;
        if
        :: stop -> break
        :: else -> skip
        fi;
        if
        :: !searching ->
           atomic { searching = (SEARCHING < MAX_SEARCHING); if :: searching -> SEARCHING++ :: else -> skip fi };
           if :: searching -> goto again :: else -> skip fi
        :: else ->                                  /* PARK-S2 */
           atomic { SEARCHING--; last = (SEARCHING == 0) }; searching = false;
           seen = work;
           if :: last && seen > 0 -> goto again :: else -> skip fi
        fi;
        park[i] = PARKED;                           /* PARK-P1 */
        SLEEPING++;                                 /* PARK-P2 */
        seen = work + (i == 0 -> inbox0 : 0); stop = SHUTDOWN;   /* PARK-P3 with INBOX-W1 */
        if
        :: seen > 0 || stop ->
           atomic { won = (park[i] == PARKED); if :: won -> park[i] = AWAKE :: else -> skip fi };
           if :: won -> SLEEPING--; goto again :: else -> skip fi
        :: else -> skip
        fi;
        (park[i] != PARKED);                        /* PARK-P4 */
        if :: park[i] == NOTIFIED -> searching = true :: else -> skip fi;   /* PARK-P5 */
        park[i] = AWAKE
     fi;
again: skip
  od;
  if :: searching -> SEARCHING-- :: else -> skip fi
}

init {
  atomic { run producer(); run worker(0); run worker(1) }
  OTHERS_DONE;
  assert(consumed == TOTAL && work == 0 && inbox0 == 0);
  assert(SLEEPING == 0 && SEARCHING == 0);
  finished = true
}
