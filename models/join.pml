/*
 * A join frame (src/common/join-frame.ts, src/worker/compute-runtime.ts; PROTOCOL.md, "Join
 * frames"): the owner marks its frame PENDING and pushes half b (JOIN-J1), runs half a (JOIN-J2),
 * then tries to take b back (JOIN-J3); if a thief took it, the owner waits for the frame
 * (JOIN-J4), parked as a pool sleeper whose last look includes "the frame is settled" (PARK-P1..P5
 * with `until`). The thief marks the frame TAKEN, runs b, writes the result words, publishes DONE
 * (JOIN-J8) and unparks the owner (PARK-U1). Taking the record is one atomic step here
 * (models/deque.pml proves the deque).
 * Checks: b runs exactly once; the owner reads the thief's result, never a stale one; the owner
 * does not sleep forever (invalid end state otherwise).
 * MUTANT: the thief publishes DONE before it writes the result words: the owner can read the
 * frame's old contents as b's result.
 */
#define PENDING 1
#define TAKEN 2
#define DONE 3
#define AWAKE 0
#define PARKED 1
#define RESULT 7
#include "liveness.inc"

byte frameState = 0;
byte frameResult = 0;      /* the frame's result words (plain writes, published by the state store) */
bit recordInDeque = 0;     /* b's record: in the owner's deque until someone takes it */
byte runsOfB = 0;
byte park = AWAKE;         /* the owner's park word */
byte got = 0;

proctype owner() {
  bool mine, won;
  byte s;
  frameState = PENDING;                             /* JOIN-J1: pending, then push b */
  recordInDeque = 1;
  skip;                                             /* JOIN-J2: run a */
  atomic { mine = recordInDeque; recordInDeque = 0 }   /* JOIN-J3: pop until our record comes back */
  if
  :: mine -> runsOfB++; got = RESULT                /* not stolen: run b here */
  :: else ->
     do                                             /* JOIN-J4: wait for the frame */
     :: frameState == DONE -> got = frameResult; break
     :: else ->
        park = PARKED;                              /* PARK-P1 */
        s = frameState;                             /* PARK-P3: the last look includes the frame */
        if
        :: s == DONE -> atomic { won = (park == PARKED); if :: won -> park = AWAKE :: else -> skip fi }
        :: else -> (park != PARKED)                 /* PARK-P4: sleep until unparked */
        fi;
        park = AWAKE
     od
  fi;
  assert(got == RESULT)
}

proctype thief() {
  bool taken, won;
  (recordInDeque == 1 || frameState == 0 || got != 0);   /* wait until there may be something to steal */
  atomic { taken = recordInDeque; recordInDeque = 0 }
  if
  :: taken ->
     frameState = TAKEN;                            /* JOIN-J5 */
     runsOfB++;                                     /* run b */
#ifdef MUTANT
     frameState = DONE;                             /* MUTANT: publish first ... */
     frameResult = RESULT;                          /* ... then write the result */
#else
     frameResult = RESULT;                          /* the result words */
     frameState = DONE;                             /* JOIN-J8: publish */
#endif
     atomic { won = (park == PARKED); if :: won -> park = AWAKE :: else -> skip fi }   /* PARK-U1 */
  :: else -> skip
  fi
}

init {
  atomic { run owner(); run thief() }
  OTHERS_DONE;
  assert(runsOfB == 1 && got == RESULT);
  finished = true
}
