/**
 * Main thread: the pool's mail hub (src/common/pool-mail.ts). Posts to workers over their registry
 * ports and raises their WORKER_MAIL word so they read it at their next idle point; reads each
 * worker's port synchronously; relays what a worker broadcasts (`reg`, `rel`) to the other workers
 * and forwards parcels a worker addresses to another worker (a stolen join half's result).
 */
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { PoolControl } from "../common/pool-control.ts";
import { LOCAL_ID_MASK, TO_MAIN, type Mail, type MailTransport } from "../common/pool-mail.ts";

export class PoolMailer implements MailTransport {
  /** The local part of the newest id each seat's threads sent (main sees every id: it relays them). */
  private readonly lastIds: number[] = [];
  constructor(
    private readonly control: PoolControl,
    /** The registry port of the thread in seat i (live, or still loading), if any. */
    private readonly portOf: (seat: number) => MessagePort | undefined,
    private readonly seats: number,
  ) {}

  broadcast(mail: Mail, transfer?: ArrayBuffer[]): void {
    this.toAll(mail, -1, transfer);
  }

  send(to: number, mail: Mail, transfer?: ArrayBuffer[]): void {
    if (to === TO_MAIN) throw new Error("pool mailer: the main thread cannot mail itself");
    this.toSeat(to, mail, transfer);
  }

  /** Owner 0 is this thread: nothing to read. Owner i + 1: worker i's port, relaying on the way. */
  poll(owner: number): Mail | undefined {
    const port = owner > 0 ? this.portOf(owner - 1) : undefined;
    if (port === undefined) return undefined;
    for (;;) {
      const got = receiveMessageOnPort(port);
      if (got === undefined) return undefined;
      const mail = got.message as Mail;
      if (mail.t === "reg" || mail.t === "parcel") this.lastIds[owner - 1] = mail.id & LOCAL_ID_MASK;
      if (mail.t === "parcel" && mail.to !== TO_MAIN) {
        this.toSeat(mail.to, mail, mail.bytes instanceof ArrayBuffer ? [mail.bytes] : []); // for another worker: pass it on, read on
        continue;
      }
      if (mail.t === "reg" || mail.t === "rel") this.toAll(mail, owner - 1);
      return mail;
    }
  }

  /** Where the next thread in `seat` starts numbering its ids: past every id an earlier one sent (ids never repeat). */
  firstIdFor(seat: number): number {
    const last = this.lastIds[seat] ?? 0;
    return last >= LOCAL_ID_MASK ? 1 : last + 1;
  }

  /** True (and cleared) when some worker mailed the main thread since the last look. */
  takeFlag(): boolean {
    return this.control.takeMainMail();
  }

  /** Some worker mailed the main thread since the last look (the flag stays up). */
  flagRaised(): boolean {
    return this.control.mainMailRaised();
  }

  /** Owners (worker index + 1) of every seat, for draining all mail. */
  owners(): number[] {
    return Array.from({ length: this.seats }, (_, i) => i + 1);
  }

  private toAll(mail: Mail, except: number, transfer?: ArrayBuffer[]): void {
    for (let i = 0; i < this.seats; i++) if (i !== except) this.toSeat(i, mail, transfer);
  }

  private toSeat(i: number, mail: Mail, transfer?: ArrayBuffer[]): void {
    const port = this.portOf(i);
    if (port === undefined) return; // an empty seat: a thread started there gets a snapshot in its setup
    port.postMessage(mail, transfer ?? []);
    this.control.raiseWorkerMail(i);
  }
}
