/*
 * A join frame whose thief dies (src/common/join-frame.ts, src/main/crash-repair.ts; PROTOCOL.md
 * "Join frames", JOIN-J6, and "Crash repair"): the thief takes half b, marks the frame TAKEN, and
 * either settles it (result words, DONE, PARK-U1) or dies inside b. On its death the main thread
 * marks the seat gone, orphans the frames the dead thread had taken (JOIN-J6), unparks the owner
 * (PARK-U1) and starts a replacement, whose ready handshake makes the seat live again. The owner
 * waits for the frame as in join.pml, parked with "the frame is over" in its last look.
 * Checks: the owner always learns the outcome (b's result when the thief lived, "its thief died"
 * when it died) and never sleeps for good (an invalid end state otherwise).
 * MUTANT: the owner judges the thief by its seat's liveness instead of by the frame (the bug a user
 * trial found): a replacement ready before the owner looks makes the dead thief's seat live again,
 * and the owner sleeps for good.
 */
#define PENDING 1
#define TAKEN 2
#define DONE 3
#define ORPHANED 5
#define AWAKE 0
#define PARKED 1
#define RESULT 7
#ifndef MUTANT
#define OVER(s) (s == DONE || s == ORPHANED)
#else
#define OVER(s) (s == DONE || (s == TAKEN && !alive))
#endif
#include "liveness.inc"

byte frameState = 0;
byte frameResult = 0;
bit recordInDeque = 0;
byte park = AWAKE;         /* the owner's park word */
bool alive = true;         /* the thief's seat */
bool died = false;
byte outcome = 0;          /* what the owner learnt: RESULT, or ORPHANED */

proctype owner() {
  bool mine, won;
  byte s;
  frameState = PENDING;                             /* JOIN-J1 */
  recordInDeque = 1;
  skip;                                             /* JOIN-J2: run a */
  atomic { mine = recordInDeque; recordInDeque = 0 }   /* JOIN-J3 */
  if
  :: mine -> outcome = RESULT                       /* not stolen: b runs here */
  :: else ->
     do                                             /* JOIN-J4 */
     :: s = frameState;
        if
        :: OVER(s) -> break
        :: else ->
           park = PARKED;                           /* PARK-P1 */
           s = frameState;                          /* PARK-P3: the last look includes the frame */
           if
           :: OVER(s) -> atomic { won = (park == PARKED); if :: won -> park = AWAKE :: else -> skip fi }
           :: else -> (park != PARKED)              /* PARK-P4 */
           fi;
           park = AWAKE
        fi
     od;
     if
     :: s == DONE -> outcome = frameResult; assert(outcome == RESULT)
     :: else -> outcome = ORPHANED                  /* WorkerCrashedError */
     fi
  fi
}

proctype thief() {
  bool taken, won;
  (recordInDeque == 1 || outcome != 0);
  atomic { taken = recordInDeque; recordInDeque = 0 }
  if
  :: taken ->
     frameState = TAKEN;                            /* JOIN-J5 */
     if
     :: frameResult = RESULT;                       /* runs b, writes the result */
        frameState = DONE;                          /* JOIN-J8 */
        atomic { won = (park == PARKED); if :: won -> park = AWAKE :: else -> skip fi }   /* PARK-U1 */
     :: died = true                                 /* exits inside b */
     fi
  :: else -> skip
  fi
}

proctype main() {
  bool won;
  (died || outcome != 0);                           /* the thread's close event, or nothing happens */
  if
  :: died ->
     alive = false;                                 /* seatGone */
     atomic { if :: frameState == TAKEN -> frameState = ORPHANED :: else -> skip fi }   /* JOIN-J6 */
     atomic { won = (park == PARKED); if :: won -> park = AWAKE :: else -> skip fi }    /* unpark the owners */
     alive = true                                   /* the replacement is ready */
  :: else -> skip
  fi
}

init {
  atomic { run owner(); run thief(); run main() }
  OTHERS_DONE;
  assert(died -> outcome == ORPHANED : outcome == RESULT);
  finished = true
}
