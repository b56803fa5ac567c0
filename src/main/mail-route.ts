/**
 * Main thread: which pool thread an argument is mailed to (run's `transfer` option; a byte array
 * over an arena block or finding no room, src/common/codec.ts). Only
 * a static thread (it never retires, so its inbox is always looked at) that is alive or starting in
 * its seat, with room in its inbox. A parked thread first (it wakes for this task alone); else the
 * one with the fewest records waiting in its inbox, in turn from the last one chosen. -1 when none
 * may take it: the argument then goes the way it would without a thread to mail it to.
 */
import type { PoolQueues } from "../shm/pool-queues.ts";

export interface MailRouteHost {
  readonly threads: number;
  readonly queues: PoolQueues;
  /** A static seat whose thread is alive or starting. */
  takesMail(seat: number): boolean;
}

export class MailRoute {
  private next = 0;

  constructor(private readonly host: MailRouteHost) {}

  pick(): number {
    const { threads, queues } = this.host;
    let best = -1;
    let bestRoom = 0;
    for (let k = 0; k < threads; k++) {
      const seat = (this.next + k) % threads;
      if (!this.host.takesMail(seat)) continue;
      const room = queues.inboxRoom(seat);
      if (room === 0) continue;
      if (queues.idle.isParked(seat)) {
        best = seat;
        break;
      }
      if (room > bestRoom) {
        best = seat;
        bestRoom = room;
      }
    }
    if (best >= 0) this.next = (best + 1) % threads;
    return best;
  }
}
