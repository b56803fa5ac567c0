/*
 * A thread's task keeps its argument's arena block until its completion is out (PROTOCOL.md,
 * "Progress (pools)", ARENA-L2; src/worker/worker-core.ts, src/submit/submitter.ts): the runner
 * decodes without freeing, writes a result that fits into that block (or takes a block of its
 * own), pushes the completion, then frees the argument's block unless the result took it. It may
 * die at any step. Crash repair (main) pushes a CRASHED notice for the task while its holder has
 * not closed it; the ring is FIFO, so a notice comes after any real completion. The holder frees
 * what a real completion names, or the argument's block on a notice for a task it still has.
 * Another thread allocates and frees blocks meanwhile (a block freed twice may be someone
 * else's by then).
 * Checks: no block is freed when free (a double free) and none is freed while another thread owns
 * it; at the end every block is free, except the argument's when the runner died between its push
 * and its free, and a result's own block when it died between taking it and the push (the
 * documented windows: a thread ended from outside there leaks one block).
 * MUTANT: the runner frees the argument's block before pushing the completion: a death in between
 * leaves the holder a notice, and it frees the block a second time.
 */
#define FREE 0
#define NONE 9
#define REAL 1
#define CRASHED 2
#include "liveness.inc"

byte owner[2];          /* per block: FREE, or who holds it (1 the task, 2 the other thread) */
chan ring = [2] of { byte, byte };   /* the lane's completions: kind, result block */
bool died = false;
bool pushed = false;
bool windowDeath = false;  /* died after the push, before the free */
bool resultDeath = false;  /* died holding a result block of its own, before the push */
bool closed = false;       /* the holder has settled and closed the task */
bool repaired = false;

inline free(b, who) {
  atomic { assert(owner[b] == who); owner[b] = FREE }
}

proctype runner() {
  byte res = NONE;
  bool reused = false;
  if                                               /* claimed, argument decoded without freeing it */
  :: died = true; goto end
  :: skip
  fi;
  if
  :: reused = true; res = 0                        /* the result fits: written into block 0 */
  :: atomic { if :: owner[1] == FREE -> owner[1] = 1; res = 1 :: else -> res = NONE fi }   /* its own block, or none (an error, inline) */
  fi;
#ifdef MUTANT
  if :: !reused -> free(0, 1) :: else -> skip fi;
#endif
  if
  :: died = true; resultDeath = (res == 1); goto end
  :: skip
  fi;
  ring ! REAL, res;                                /* TASK-T2 */
  pushed = true;
  if
  :: died = true; windowDeath = true; goto end
  :: skip
  fi;
#ifndef MUTANT
  if :: !reused -> free(0, 1) :: else -> skip fi;  /* ARENA-L2 */
#endif
end:
  skip
}

proctype repair() {
  (died || closed);
  if
  :: died -> atomic { if :: !closed -> ring ! CRASHED, NONE :: else -> skip fi }   /* LANE-K1 */
  :: else -> skip
  fi;
  repaired = true
}

proctype holder() {
  byte kind, res;
  do
  :: closed && repaired && len(ring) == 0 -> break
  :: ring ? kind, res ->
     if
     :: closed -> skip                             /* LANE-K2: a notice after a real completion */
     :: !closed && kind == REAL -> if :: res != NONE -> free(res, 1) :: else -> skip fi; closed = true
     :: !closed && kind == CRASHED -> free(0, 1); closed = true   /* the dead runner held it */
     fi
  od
}

proctype other() {                                 /* another submitter: takes a free block, gives it back */
  byte b = 0;
  do
  :: b < 2 ->
     atomic { if :: owner[b] == FREE -> owner[b] = 2 :: else -> b = 3 fi };
     if :: b < 2 -> free(b, 2); b++ :: else -> break fi
  :: b >= 2 -> break
  od
}

init {
  atomic { owner[0] = 1; run runner(); run repair(); run holder(); run other() }   /* the argument in block 0 */
  OTHERS_DONE;
  assert(owner[1] == FREE || resultDeath);
  assert(owner[0] == FREE || windowDeath);
  finished = true
}
