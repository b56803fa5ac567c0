/*
 * Park and unpark (src/shm/idle.ts, src/shm/work-finder.ts; PROTOCOL.md "Park and unpark"):
 * SEARCHING and SLEEPING counters, a park word per worker, notify-one after each publish, the
 * searcher limit (R1: 1 of 2 workers), the last-searcher rules (S1, S2) and shutdown. A producer
 * publishes 2 records one at a time (the queue is abstracted to a counter; taking is one atomic
 * step, as the injector/deque models prove it is) and notifies after each; when both are taken it
 * shuts the pool down. Futex waits are guards on the park word; no timeouts.
 * Checks: no lost wake-up: if a worker could sleep while a record waits and nobody will look, the
 * producer waits for `consumed == TOTAL` forever and every worker sleeps: an invalid end state.
 * Counters never go negative and return to 0.
 * MUTANT: the worker announces its sleep (PARK-P2, SLEEPING++) only after its last look (PARK-P3):
 * a producer that publishes in between reads SLEEPING == 0 at PARK-N2 and wakes nobody.
 */
#define W 2
#define TOTAL 2
#define MAX_SEARCHING 1
#define AWAKE 0
#define PARKED 1
#define NOTIFIED 2
#include "liveness.inc"

byte work = 0, consumed = 0;
byte SEARCHING = 0, SLEEPING = 0;
bool SHUTDOWN = false;
byte park[W];

#include "notify-one.inc"

proctype producer() {
  byte k = 0, j, seen;
  bool won, found, last;
  do
  :: k < TOTAL -> work++; notifyOne(); k++         /* publish, then notify */
  :: else -> break
  od;
  (consumed == TOTAL);
  SHUTDOWN = true;                                  /* shutdown: store, then U1 for every worker */
  j = 0;
  do
  :: j < W ->
     atomic { won = (park[j] == PARKED); if :: won -> park[j] = AWAKE :: else -> skip fi };
     if :: won -> SLEEPING-- :: else -> skip fi;
     j++
  :: else -> break
  od
}

proctype worker(byte i) {
  bool searching = false, won, found, last, took;
  byte j, seen, stop;
  do
  :: atomic { took = (work > 0); if :: took -> work--; consumed++ :: else -> skip fi };
     if
     :: took ->
        if
        :: searching ->                             /* PARK-S1: leave searching; last one notifies */
           atomic { SEARCHING--; last = (SEARCHING == 0) }; searching = false;
           seen = work;
           if :: last && seen > 0 -> notifyOne() :: else -> skip fi
        :: else -> skip
        fi
     :: else ->
        stop = SHUTDOWN;
        if
        :: stop -> break                            /* closed: nothing left */
        :: else -> skip
        fi;
        if
        :: !searching ->                            /* become a searcher if under the limit (R1) */
           atomic { searching = (SEARCHING < MAX_SEARCHING); if :: searching -> SEARCHING++ :: else -> skip fi };
           if :: searching -> goto again :: else -> skip fi
        :: else ->                                  /* PARK-S2: a spin found nothing */
           atomic { SEARCHING--; last = (SEARCHING == 0) }; searching = false;
           seen = work;
           if :: last && seen > 0 -> goto again :: else -> skip fi
        fi;
        park[i] = PARKED;                           /* PARK-P1 */
#ifndef MUTANT
        SLEEPING++;                                 /* PARK-P2 */
#endif
        seen = work; stop = SHUTDOWN;               /* PARK-P3: look once more */
#ifdef MUTANT
        SLEEPING++;                                 /* MUTANT: announced after the look */
#endif
        if
        :: seen > 0 || stop ->
           atomic { won = (park[i] == PARKED); if :: won -> park[i] = AWAKE :: else -> skip fi };
           if :: won -> SLEEPING--; goto again :: else -> skip fi
        :: else -> skip
        fi;
        (park[i] != PARKED);                        /* PARK-P4: futex wait */
        if :: park[i] == NOTIFIED -> searching = true :: else -> skip fi;   /* PARK-P5 (R3) */
        park[i] = AWAKE
     fi;
again: skip
  od;
  if :: searching -> SEARCHING-- :: else -> skip fi
}

init {
  atomic { run producer(); run worker(0); run worker(1) }
  OTHERS_DONE;
  assert(consumed == TOTAL && work == 0);
  assert(SLEEPING == 0 && SEARCHING == 0);
  finished = true
}
