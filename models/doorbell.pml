/*
 * The main thread's doorbell (src/shm/doorbell.ts; PROTOCOL.md, "Doorbell"): 2 pool threads each
 * publish 2 completions and ring if main announced a sleep; main drains, and when it finds nothing
 * reads the doorbell, announces, looks once more and sleeps until the doorbell moves.
 * Checks: no lost wake-up (main asleep with a completion waiting and no ring coming is an invalid
 * end state, as the workers have finished); every completion drained; MAIN_WAITING back to 0.
 * MUTANT: main reads the doorbell after announcing (BELL-D3 after BELL-D4): a ring that came in
 * between is counted in `seen`, and main sleeps for a ring that will not come.
 */
#define WORKERS 2
#define PER_WORKER 2
#define TOTAL (WORKERS * PER_WORKER)
#include "liveness.inc"

byte published = 0;       /* completions in the ring (the ring itself: the injector model) */
byte drained = 0;
bit MAIN_WAITING = 0;
byte DOORBELL = 0;

proctype worker() {
  byte k = 0;
  bool won;
  do
  :: k < PER_WORKER ->
     published++;                                             /* BELL-D1: publish a completion */
     atomic { won = (MAIN_WAITING == 1); if :: won -> MAIN_WAITING = 0 :: else -> skip fi };   /* BELL-D2: load + CAS */
     if :: won -> DOORBELL++ :: else -> skip fi;              /* ring (add + notify) */
     k++
  :: else -> break
  od
}

proctype main() {
  byte seen, look;
  do
  :: drained == TOTAL -> break
  :: else ->
     if
     :: drained < published -> drained++                      /* drain one */
     :: else ->
#ifdef MUTANT
        MAIN_WAITING = 1;                                     /* MUTANT: announce first ... */
        seen = DOORBELL;                                      /* ... then read the doorbell */
#else
        seen = DOORBELL;                                      /* BELL-D3 */
        MAIN_WAITING = 1;                                     /* BELL-D4: announce ... */
#endif
        look = published;                                     /* ... and look once more */
        if
        :: look > drained -> MAIN_WAITING = 0                 /* something came: awake, drain */
        :: else ->
           (DOORBELL != seen);                                /* BELL-D5: sleep until a ring */
           MAIN_WAITING = 0
        fi
     fi
  od
}

init {
  atomic { run worker(); run worker(); run main() }
  OTHERS_DONE;
  assert(drained == TOTAL && MAIN_WAITING == 0);
  finished = true
}
