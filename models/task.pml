/*
 * A task slot's state word (PROTOCOL.md, "Tasks and completions" and "Cancellation"): the main
 * thread queues a task in a slot (TASK-S1), publishes its record (TASK-S2) and may cancel it at any
 * moment (TASK-C1 while queued, TASK-C2 sets the abort flag while it runs); a pool thread claims
 * it (TASK-T1) or skips it, and posts one completion (TASK-T2); main gives the slot back on the
 * completion (TASK-S3) and reuses it for the next task with the next generation. 2 tasks, 1 slot.
 * Checks: exactly one of claim and cancel wins; a cancelled task never runs; each task gets
 * exactly one completion, with its own generation; a slot is reused only when free.
 * MUTANT: the claim reads the word and then stores RUNNING (no CAS): a cancel that lands in
 * between is lost and the cancelled task runs.
 */
#define FREE 0
#define QUEUED 1
#define RUNNING 2
#define CANCELLED 3
#define ABORT 8
#define TASKS 2
#define W(g, s) ((g) * 16 + (s))
#include "liveness.inc"

byte word = FREE;                       /* gen << 4 | state, as the real word packs them */
chan records = [TASKS] of { byte };     /* a record names its generation */
chan completions = [TASKS] of { byte, bit };   /* generation, skipped */
byte ran[TASKS + 1], completed[TASKS + 1];
bool cancelled[TASKS + 1];
bool mainDone = false;

proctype main() {
  byte k = 1, g;
  bit skipped;
  do
  :: k <= TASKS ->
     assert(word % 16 == FREE);                       /* reused only when given back */
     word = W(k, QUEUED);                             /* TASK-S1 */
     records!k;                                       /* TASK-S2 */
     if
     :: skip                                          /* no abort */
     :: atomic {                                      /* the caller aborts, at any moment */
          if
          :: word == W(k, QUEUED) -> word = W(k, CANCELLED); cancelled[k] = true   /* TASK-C1 */
          :: word == W(k, RUNNING) -> word = W(k, RUNNING) + ABORT                 /* TASK-C2 */
          :: else -> skip
          fi }
     fi;
     completions?g, skipped;                          /* TASK-S3 */
     assert(g == k);
     assert(skipped == cancelled[k]);
     completed[k]++;
     word = FREE;
     k++
  :: else -> break
  od;
  mainDone = true
}

proctype worker() {
  byte g;
  bool won;
end:
  do
  :: records?g ->
#ifdef MUTANT
     won = (word == W(g, QUEUED));                    /* MUTANT: look ... */
     if :: won -> word = W(g, RUNNING) :: else -> skip fi;   /* ... then store */
#else
     atomic { won = (word == W(g, QUEUED)); if :: won -> word = W(g, RUNNING) :: else -> skip fi }   /* TASK-T1 */
#endif
     if
     :: won -> ran[g]++; assert(!cancelled[g]); completions!g, 0   /* run, then TASK-T2 */
     :: else -> completions!g, 1                      /* cancelled before it ran: SKIPPED */
     fi
  od
}

init {
  byte i;
  atomic { run main(); run worker() }
  mainDone;                                           /* (Spin ends processes in reverse order: a flag, not _nr_pr) */
  for (i : 1 .. TASKS) {
    assert(completed[i] == 1);
    assert(ran[i] == (cancelled[i] -> 0 : 1))
  };
  finished = true
}
