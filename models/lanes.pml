/*
 * Submitter lanes (PROTOCOL.md, "Submitters"): completions routed to the lane of their slot, a
 * lane holder that exits, the main thread reaping its lane, and a new holder reusing it.
 * Two lanes of one slot each (lane l owns slot l). Thread A holds lane 1, submits a task and exits,
 * before or after its completion came back; B holds lane 2 throughout; once lane 1 is free again,
 * C takes it and submits. A worker pops records and claims them later (a pop and its claim are
 * apart, as in the code: the reaper may free a slot while a popped record is still unclaimed).
 * Checks: a holder only ever takes completions of its own lane; a claim always runs the record
 * of the submitter that queued the slot's current task; B's and C's tasks complete exactly once,
 * not skipped; a lane is never held twice; the lane comes back (liveness).
 * MUTANT: LANE-C2 left out: the new holder starts the slot's generation afresh instead of after
 * the last holder's, so A's stale record (popped, not yet claimed when the lane was freed) claims
 * C's task and runs A's argument as C's.
 */
#define FREE 0
#define QUEUED 1
#define RUNNING 2
#define CANCELLED 3
#define HELD 1
#define REAPING 2
#define A 1
#define B 2
#define C 3
#define W(g, s) ((g) * 16 + (s))
#define GEN(w) ((w) / 16)
#define STATE(w) ((w) % 16)
#include "liveness.inc"

byte word[3];                                   /* per slot: gen << 4 | state */
byte laneState[3], laneOwner[3];
byte queuedBy[3];                               /* who queued the slot's current task (the check's bookkeeping) */
chan queue = [3] of { byte, byte, byte };       /* slot, gen, who */
chan ring[3] = [3] of { byte, byte, bit };      /* per lane: slot, gen, skipped */
bool aExited = false, reaped = false, bDone = false, cDone = false;
byte cRan = 0;

inline claimLane(l, me) {
  atomic { laneState[l] == FREE -> assert(laneOwner[l] == 0); laneState[l] = HELD; laneOwner[l] = me }   /* LANE-C1 */
}

proctype worker() {
  byte s, g, who;
  bool won;
end:
  do
  :: queue?s, g, who ->
     atomic { won = (word[s] == W(g, QUEUED)); if :: won -> word[s] = W(g, RUNNING) :: else -> skip fi };   /* TASK-T1 */
     if
     :: won -> assert(queuedBy[s] == who); if :: who == C -> cRan++ :: else -> skip fi; ring[s]!s, g, 0   /* LANE-K3 */
     :: else -> ring[s]!s, g, 1
     fi
  od
}

proctype holderA() {
  byte g, s, rg;
  bit sk;
  claimLane(1, A);
  g = GEN(word[1]) + 1;
  word[1] = W(g, QUEUED); queuedBy[1] = A;
  queue!1, g, A;
  if
  :: skip                                       /* exits with its task in flight */
  :: ring[1]?s, rg, sk -> assert(s == 1 && rg == g); word[1] = W(g, FREE)   /* or after it came back */
  fi;
  aExited = true
}

proctype holderB() {
  byte g, s, rg;
  bit sk;
  claimLane(2, B);
  g = GEN(word[2]) + 1;
  word[2] = W(g, QUEUED); queuedBy[2] = B;
  queue!2, g, B;
  ring[2]?s, rg, sk;
  assert(s == 2 && rg == g && !sk);             /* only lane 2's completions reach lane 2 */
  word[2] = W(g, FREE);
  bDone = true
}

proctype reaper() {
  byte s, rg, w;
  bit sk;
  aExited;
  atomic { assert(laneState[1] == HELD && laneOwner[1] == A); laneState[1] = REAPING };   /* LANE-R1 */
  atomic { w = word[1]; if :: STATE(w) == QUEUED -> word[1] = W(GEN(w), CANCELLED) :: else -> skip fi };   /* LANE-R2 */
  do
  :: ring[1]?s, rg, sk -> atomic { if :: GEN(word[1]) == rg -> word[1] = W(rg, FREE) :: else -> skip fi }
  :: atomic { empty(ring[1]) && STATE(word[1]) != QUEUED && STATE(word[1]) != RUNNING && len(queue) == 0 ->
       word[1] = W(GEN(word[1]), FREE); laneOwner[1] = 0; laneState[1] = FREE };   /* LANE-R3 */
     break
  od;
  reaped = true
}

proctype holderC() {
  byte g, s, rg;
  bit sk;
  reaped;                                       /* a thread started later finds lane 1 free again */
  claimLane(1, C);
#ifdef MUTANT
  g = 1;                                        /* MUTANT: the generation starts afresh */
#else
  g = GEN(word[1]) + 1;                         /* LANE-C2 */
#endif
  word[1] = W(g, QUEUED); queuedBy[1] = C;
  queue!1, g, C;
  do
  :: ring[1]?s, rg, sk ->
     assert(s == 1);
     if
     :: rg == g -> assert(!sk); break
     :: else -> skip                             /* a stale completion of A's: dropped (TASK-S3) */
     fi
  od;
  word[1] = W(g, FREE);
  cDone = true
}

init {
  atomic { run worker(); run holderA(); run holderB(); run reaper(); run holderC() };
  bDone && cDone && reaped;
  assert(cRan == 1);
  finished = true
}
