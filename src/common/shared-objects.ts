/**
 * SharedArrayBuffers and views on them cross threads by reference: the first time one is sent,
 * its sender registers it under an id and posts it once, over a MessagePort reserved for this
 * (never on the task path again); task records then carry the id. The receiver takes registrations
 * synchronously (`receiveMessageOnPort`) when it meets an id it does not know yet.
 *
 * Ids: the main thread numbers 1..2^20-1; worker i numbers (i + 1) << 20 | n. An object received
 * from the other side keeps its id when sent back. One instance per thread per pool; not
 * thread-safe (it is thread-local).
 */
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { ThreadManagerError } from "../errors.ts";

export type SharedObject = SharedArrayBuffer | ArrayBufferView;

const MAX_LOCAL_IDS = 1 << 20;
const WAIT_CELL = new Int32Array(new SharedArrayBuffer(4));

export class SharedObjects {
  private readonly ids = new WeakMap<object, number>();
  private readonly objects = new Map<number, SharedObject>();
  private next = 1;

  /**
   * @param idBase 0 on the main thread, (worker index + 1) << 20 in a worker.
   * @param send posts a registration to every peer that may decode it.
   * @param inboxFor the port registrations from the owner of an id arrive on.
   */
  constructor(
    private readonly idBase: number,
    private readonly send: (id: number, obj: SharedObject) => void,
    private readonly inboxFor: (id: number) => MessagePort | undefined,
  ) {}

  static isShared(value: unknown): value is SharedObject {
    if (value instanceof SharedArrayBuffer) return true;
    return ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer;
  }

  /** The id of `obj`, registering and posting it the first time. */
  idOf(obj: SharedObject): number {
    const known = this.ids.get(obj);
    if (known !== undefined) return known;
    if (this.next >= MAX_LOCAL_IDS) {
      throw new ThreadManagerError("ERR_SHARED_REGISTRY_FULL", "more than 2^20 distinct shared buffers sent by one thread");
    }
    const id = this.idBase | this.next++;
    this.ids.set(obj, id);
    this.objects.set(id, obj);
    this.send(id, obj);
    return id;
  }

  /** Records an object the other side registered (setup snapshots and port messages). */
  adopt(id: number, obj: SharedObject): void {
    this.objects.set(id, obj);
    if (!this.ids.has(obj)) this.ids.set(obj, id);
  }

  /** Every object this side knows: what a replacement worker is given at start. */
  snapshot(): Array<[number, SharedObject]> {
    return [...this.objects];
  }

  /** The object for `id`, reading pending registrations if needed. */
  get(id: number): SharedObject {
    const found = this.objects.get(id);
    if (found !== undefined) return found;
    const port = this.inboxFor(id);
    const deadline = performance.now() + 2000;
    while (port) {
      const msg = receiveMessageOnPort(port);
      if (msg) {
        const { id: gotId, obj } = msg.message as { id: number; obj: SharedObject };
        this.adopt(gotId, obj);
        if (gotId === id) return obj;
        continue;
      }
      if (performance.now() > deadline) break;
      Atomics.wait(WAIT_CELL, 0, 0, 0.05); // the registration was posted before the record: it is on its way
    }
    throw new ThreadManagerError("ERR_SHARED_UNKNOWN", `shared buffer #${id} was never registered with this thread`);
  }
}
