/*
 * Injector (src/shm/injector.ts; PROTOCOL.md "Injector"): Vyukov's bounded MPMC queue with a
 * sequence number per cell. 2 producers push 2 records each, 2 consumers pop, capacity 2, so
 * cells are reused twice (wrap-around). Waiting (full, empty) is modelled as a guard that blocks
 * until the cell changes: a lost or stuck record then shows as an invalid end state.
 * Checks: every record is taken exactly once (assert), none is lost (all taken at the end), and
 * no thread can be stuck (invalid end states).
 * MUTANT: the consumer frees its cell (INJ-C3's seq store) before copying the record out, as a
 * queue that bounds in-flight records without per-cell sequence numbers effectively does: a
 * producer of the next lap overwrites the record first (the prototype's double completions).
 */
#define CAP 2
#define PER_PRODUCER 2
#define PRODUCERS 2
#define TOTAL (PER_PRODUCER * PRODUCERS)
#include "liveness.inc"

byte tail = 0;            /* TAIL: next position to produce */
byte head = 0;            /* HEAD: next position to consume */
byte seq[CAP];
byte rec[CAP];            /* the record words of a cell */
byte taken[TOTAL + 1];    /* per record id (1..TOTAL): times consumed */
byte consumed = 0;

proctype producer(byte id) {
  byte k = 0, pos, cell;
  bool won;
  do
  :: k == PER_PRODUCER -> break
  :: else ->
     (seq[tail % CAP] - tail >= 0);               /* full: wait until the cell of TAIL is freed */
     pos = tail;                                  /* INJ-P1 */
     cell = pos % CAP;
     if
     :: seq[cell] == pos ->                       /* INJ-P1: dif == 0 */
        atomic { won = (tail == pos); if :: won -> tail = pos + 1 :: else -> skip fi }   /* INJ-P2 CAS */
        if
        :: won ->
           rec[cell] = (id - 1) * PER_PRODUCER + k + 1;   /* INJ-P3: write the record */
           seq[cell] = pos + 1;                           /* INJ-P3: publish */
           k++
        :: else -> skip
        fi
     :: else -> skip                              /* dif != 0: reload */
     fi
  od
}

proctype consumer() {
  byte pos, cell, v;
  bool won;
  do
  :: consumed == TOTAL -> break
  :: else ->
     (consumed == TOTAL || seq[head % CAP] == head + 1);   /* empty: wait until published */
     pos = head;                                  /* INJ-C1 */
     cell = pos % CAP;
     if
     :: seq[cell] == pos + 1 ->                   /* INJ-C1: dif == 0 */
        atomic { won = (head == pos); if :: won -> head = pos + 1 :: else -> skip fi }   /* INJ-C2 CAS */
        if
        :: won ->
#ifdef MUTANT
           seq[cell] = pos + CAP;                 /* MUTANT: free first ... */
           v = rec[cell];                         /* ... then copy */
#else
           v = rec[cell];                         /* INJ-C3: copy the record out */
           seq[cell] = pos + CAP;                 /* INJ-C3: free for the next lap */
#endif
           atomic { taken[v]++; assert(taken[v] == 1); consumed++ }
        :: else -> skip
        fi
     :: else -> skip
     fi
  od
}

init {
  byte i;
  seq[0] = 0; seq[1] = 1;                         /* I1 */
  atomic { run producer(1); run producer(2); run consumer(); run consumer() }
  OTHERS_DONE;                                  /* everyone else finished */
  for (i : 1 .. TOTAL) { assert(taken[i] == 1) }  /* none lost, none twice */;
  finished = true
}
