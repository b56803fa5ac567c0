/*
 * Join frame generations across an owner's death (src/common/join-frame.ts,
 * src/worker/compute-runtime.ts; PROTOCOL.md "Join frames", JOIN-J1, J3, J5, J7, J8): an owner
 * opens generation 1 of its frame and pushes half b1, then dies at any moment; its replacement in
 * the same seat opens generation 2 of the same frame (JOIN-J1: waits out WRITING) and pushes b2,
 * then takes b2 back or waits for the frame (JOIN-J3, JOIN-J4). Two thieves take whatever half is
 * queued (b1 may still be queued when b2 is): each takes only its record's generation (JOIN-J5),
 * claims the frame before writing its result (JOIN-J7) and publishes it (JOIN-J8). The records are
 * a set; taking one is one atomic step (models/deque.pml proves the deque); no parking here
 * (join.pml checks the wake-up), the replacement's wait is a guard.
 * Checks: the replacement reads b2's result, never b1's; a frame's result words are written by one
 * thief at a time.
 * MUTANT: the thief publishes without claiming the frame first (no JOIN-J7 CAS, the code before the
 * second user trial): a thief still running the dead owner's b1 writes into the frame the
 * replacement reopened, and the replacement reads 111 for its 222.
 */
#define IDLE 0
#define PENDING 1
#define TAKEN 2
#define DONE 3
#define WRITING 6
#define PREPARING 7
#define B1 111
#define B2 222
#define STATE(s) ((s) % 16)
#define GEN(s) ((s) / 16)
#include "liveness.inc"

byte frame = IDLE;           /* state + 16 * gen (the state word's fields, packed small) */
byte words = 0;              /* the frame's result words */
bool queued1 = false, queued2 = false;   /* b1 (gen 1) and b2 (gen 2) waiting in a deque */
byte writers = 0;            /* thieves writing the result words right now */
bool ownerDied = false;
byte got = 0;                /* what the replacement's join returned */

proctype owner() {
  atomic { frame = PREPARING + 16 * 1; frame = PENDING + 16 * 1 };   /* JOIN-J1, generation 1 */
  queued1 = true;
  ownerDied = true                                  /* dies while b1 is queued or running */
}

proctype replacement() {
  bool mine;
  ownerDied;                                        /* starts in the seat after the death */
  atomic { STATE(frame) != WRITING -> frame = PREPARING + 16 * 2 };   /* JOIN-J1: the CAS loop, waiting out WRITING */
  frame = PENDING + 16 * 2;
  queued2 = true;
  atomic { mine = queued2; queued2 = false }        /* JOIN-J3: b2 comes back, or a thief has it */
  if
  :: mine -> got = B2                               /* runs b2 itself */
  :: else ->
     (STATE(frame) == DONE);                        /* JOIN-J4 */
     got = words
  fi;
  assert(got == B2)
}

proctype thief() {
  byte gen, s, result;
  bool won;
end:
  do
  :: atomic { queued1 -> queued1 = false; gen = 1; result = B1 }; break
  :: atomic { queued2 -> queued2 = false; gen = 2; result = B2 }; break
  od;
  atomic { won = (frame == PENDING + 16 * gen); if :: won -> frame = TAKEN + 16 * gen :: else -> skip fi };   /* JOIN-J5 */
  if
  :: !won -> goto end                               /* its generation is gone: drop it */
  :: else -> skip
  fi;
  skip;                                             /* runs the half */
#ifndef MUTANT
  atomic { won = (frame == TAKEN + 16 * gen); if :: won -> frame = WRITING + 16 * gen :: else -> skip fi };   /* JOIN-J7 */
#else
  won = true;                                       /* MUTANT: no claim */
#endif
  if
  :: won ->
     writers++;
     assert(writers == 1);
     words = result;                                /* the result words */
     writers--;
     frame = DONE + 16 * gen                        /* JOIN-J8 */
  :: else -> skip                                   /* the owner's seat moved on: drop it */
  fi;
  goto end
}

init {
  atomic { run owner(); run replacement(); run thief(); run thief() }
  (got != 0);
  finished = true
}
