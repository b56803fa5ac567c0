/*
 * The pool manager's gate (src/shm/manager-gate.ts; PROTOCOL.md, "Manager gate and scaling"): a
 * dynamic thread closes its gate (GATE-G1), looks at shutdown once more (GATE-G2) and sleeps while
 * the gate is closed (GATE-G3), with upkeep time-outs after which it sleeps again without closing
 * anew. The pool manager may open it (GATE-G4, a CAS) at any moment or not at all; then the pool
 * shuts down (GATE-G5: SHUTDOWN, then exchange every gate to OPEN).
 * Checks: every gate wait ends: the thread behind the gate always comes out (an invalid end state
 * otherwise), whatever the order of its close, the manager's open and shutdown.
 * MUTANT: no GATE-G2: a shutdown whose exchange ran before the close leaves the thread behind a
 * closed gate nobody will open.
 */
#define OPEN 0
#define CLOSED 1
#include "liveness.inc"

bit gate = OPEN;
bool SHUTDOWN = false;
bool out = false;

proctype dynamicThread() {
  gate = CLOSED;                                  /* GATE-G1 */
#ifndef MUTANT
  if
  :: SHUTDOWN -> gate = OPEN; goto left           /* GATE-G2 */
  :: else -> skip
  fi;
#endif
  if
  :: gate == CLOSED -> skip                       /* an upkeep time-out: wait again, without a new close */
  :: skip
  fi;
  (gate != CLOSED);                               /* GATE-G3: the futex wait (blocks while closed) */
left:
  out = true
}

proctype poolManager() {
  bool won;
  if
  :: atomic { won = (gate == CLOSED); if :: won -> gate = OPEN :: else -> skip fi }   /* GATE-G4 */
  :: skip                                         /* the pool never needs the thread */
  fi;
  SHUTDOWN = true;                                /* GATE-G5: SHUTDOWN ... */
  atomic { gate = OPEN }                          /* ... then exchange to OPEN, notify if it was CLOSED */
}

init {
  atomic { run dynamicThread(); run poolManager() }
  OTHERS_DONE;
  assert(out);
  finished = true
}
