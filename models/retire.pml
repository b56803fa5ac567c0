/*
 * Standalone threads: spawn and retire (src/worker/thread-role.ts, src/worker/pool-worker.ts,
 * src/main/worker-set.ts, src/main/thread-seats.ts; PROTOCOL.md "Manager gate and scaling",
 * RETIRE-X1..X3, RETIRE-M1..M2) in a pool with no static thread, the case where the manager's tick
 * is the only way in. A producer publishes 2 records and notifies after each (PARK-N1..N5);
 * standalone threads in 2 seats take work, search, park with a time-out (Spin lets any park time
 * out) and retire when a park times out; the pool manager asks for a thread whenever a record waits
 * (its starvation or hog tick; at most 4 starts in all: with 3 a run strands a record, with 4 none
 * does); the main thread starts one in a free seat and frees a seat when its thread says it
 * retired. Its messages (asks, retired) come through one mailbox in arrival order, as the real
 * event loop takes them.
 * Checks: each record taken once; none left behind when everything stops (a record stranded with
 * no thread to take it and no tick to bring one); a retiring thread holds nothing (its park word
 * AWAKE, counted neither as sleeper nor searcher); a seat gets a new thread only after its old one
 * retired; the counters are back to 0.
 * MUTANT: the thread retires after any park, not only one that timed out: a thread a producer
 * notified (counted as a searcher, PARK-R3) leaves with its searcher slot.
 */
#define W 2
#ifdef LIVENESS
#define TOTAL 1                                    /* the liveness run: with 2, 73 M states visited, 40 s */
#else
#define TOTAL 2
#endif
#define MAX_SEARCHING 1
#define MAX_STARTS 4
#define AWAKE 0
#define PARKED 1
#define NOTIFIED 2
#define FREE 0
#define TAKEN 1
#include "liveness.inc"

byte work = 0, consumed = 0;
byte SEARCHING = 0, SLEEPING = 0;
byte park[W];
bool ALIVE[W];
byte seat[W];                                      /* the main thread's seats */
byte SPAWNS_WANTED = 0, starts = 0;
#define ASK 0
#define RETIRED 1
chan mail = [W + 1] of { byte, byte };            /* the main thread's event loop: messages in arrival order */

#include "notify-one.inc"

proctype producer() {
  byte k = 0, j, seen;
  bool won, found, last;
  do
  :: k < TOTAL -> work++; notifyOne(); k++
  :: else -> break
  od
}

proctype standalone(byte i) {
  bool searching = false, won, found, last, took;
  byte j, seen;
  ALIVE[i] = true;                                 /* ready */
  do
  :: atomic { took = (work > 0); if :: took -> work--; consumed++ :: else -> skip fi };
     if
     :: took && searching ->                       /* PARK-S1 */
        atomic { SEARCHING--; last = (SEARCHING == 0); searching = false };
        seen = work;
        if :: last && seen > 0 -> notifyOne() :: else -> skip fi
     :: took && !searching -> skip
     :: else ->
        if
        :: !searching ->
           atomic { searching = (SEARCHING < MAX_SEARCHING); if :: searching -> SEARCHING++ :: else -> skip fi };
           if :: searching -> goto again :: else -> skip fi
        :: else ->                                 /* PARK-S2 */
           atomic { SEARCHING--; last = (SEARCHING == 0); searching = false };
           seen = work;
           if :: last && seen > 0 -> goto again :: else -> skip fi
        fi;
        park[i] = PARKED;                          /* PARK-P1 */
        SLEEPING++;                                /* PARK-P2 */
        seen = work;                               /* PARK-P3 */
        if
        :: seen > 0 ->
           atomic { won = (park[i] == PARKED); if :: won -> park[i] = AWAKE :: else -> skip fi };
           if :: won -> SLEEPING--; goto again :: else -> skip fi
        :: else -> skip
        fi;
        if                                         /* PARK-P4: woken, or the time-out passes */
        :: park[i] != PARKED -> skip
        :: true -> skip
        fi;
        atomic {                                   /* PARK-P5 (after a failed CAS only this thread writes its word) */
          won = (park[i] == PARKED);
          if :: !won && park[i] == NOTIFIED -> searching = true :: else -> skip fi;
          park[i] = AWAKE
        };
        if :: won -> SLEEPING-- :: else -> skip fi;
#ifndef MUTANT
        if :: won -> goto retire :: else -> skip fi   /* RETIRE-X1: only a park that timed out */
#else
        goto retire
#endif
     fi;
again: skip
  od;
retire:
  assert(!searching && park[i] == AWAKE);         /* holds nothing: no notifier counted it */
  ALIVE[i] = false;                                /* RETIRE-X2 */
  mail!RETIRED, i                                  /* RETIRE-X3 */
}

proctype manager() {
end:
  do                                               /* a tick that sees a record waiting asks for a thread */
  :: atomic { work > 0 && SPAWNS_WANTED == 0 && starts < MAX_STARTS -> SPAWNS_WANTED = 1; mail!ASK, 0 }
  od
}

proctype main() {
  byte kind, i;
end:
  do
  :: mail?kind, i ->
     if
     :: kind == RETIRED ->                         /* RETIRE-M1: its seat is free again */
        assert(seat[i] == TAKEN && !ALIVE[i]);
        seat[i] = FREE
     :: else ->                                    /* an ask: a start in a free seat, else give it back */
        atomic {
          if
          :: seat[0] == FREE -> i = 0
          :: seat[1] == FREE -> i = 1
          :: else -> i = W
          fi;
          if
          :: i < W -> seat[i] = TAKEN; starts++; run standalone(i)
          :: else -> skip
          fi;
          SPAWNS_WANTED = 0
        }
     fi
  od
}

init {
  atomic { run producer(); run manager(); run main() }
  timeout;                                         /* nothing can move any more */
  assert(consumed == TOTAL && work == 0);
  assert(SLEEPING == 0 && SEARCHING == 0 && seat[0] == FREE && seat[1] == FREE);
  finished = true
}
