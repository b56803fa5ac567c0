/**
 * Worker side of the pool's mail (src/common/pool-mail.ts): one port to the main thread, which
 * relays to the other workers. Raises POOL_MAIN_MAIL and rings the main thread when what it posts
 * must be passed on (another thread may be waiting to decode a record that names it).
 */
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { PoolControl } from "../common/pool-control.ts";
import { TO_MAIN, type Mail, type MailTransport } from "../common/pool-mail.ts";

export class WorkerMailer implements MailTransport {
  constructor(
    private readonly port: MessagePort,
    private readonly control: PoolControl,
    private readonly index: number,
  ) {}

  broadcast(mail: Mail, transfer?: ArrayBuffer[]): void {
    this.post(mail, transfer, true);
  }

  send(to: number, mail: Mail, transfer?: ArrayBuffer[]): void {
    // A parcel for the main thread is read when its record is: no need to hurry the main thread.
    this.post(mail, transfer, to !== TO_MAIN);
  }

  poll(): Mail | undefined {
    return receiveMessageOnPort(this.port)?.message as Mail | undefined;
  }

  /** True (and cleared) when the main thread mailed this worker since the last look. */
  takeFlag(): boolean {
    return this.control.takeWorkerMail(this.index);
  }

  private post(mail: Mail, transfer: ArrayBuffer[] | undefined, relay: boolean): void {
    this.port.postMessage(mail, transfer ?? []);
    if (!relay) return;
    this.control.raiseMainMail();
    this.control.ringMain();
  }
}
