/**
 * SharedArrayBuffers cross threads by reference: the first time a thread sends one, it registers it
 * under an id it owns and mails it to every peer (`reg`); task records then carry the id. A view on
 * a shared buffer travels as (buffer id, kind, offset, length), so views cost no registration.
 * Payloads too large for the arena travel as parcels: bytes mailed to the one thread that decodes
 * them (or, from the main thread to "whoever takes the task", as a registered buffer released when
 * the task ends).
 *
 * Lifetimes (PROTOCOL.md, "Mail"):
 * - A thread only sends ids it owns. A buffer it received and sends on is registered again under
 *   its own id, with the id it came under as `origin`, so the origin thread maps it back to its own
 *   object (the same object comes back).
 * - The owner holds its buffers weakly; when one is collected it mails `rel`. The main thread keeps
 *   the buffers of a task's argument alive until the task completes, and a join owner keeps its
 *   half's argument alive until the join returns, so no record names a released id.
 * - A receiver holds what it adopted strongly until `rel`, and applies `rel` only at its next idle
 *   point (`settle`), when no record it has yet to decode can name the id.
 * One instance per thread per pool; thread-local.
 */
import { ThreadManagerError } from "../errors.ts";
import { LOCAL_ID_MASK, OWNER_SHIFT, ownerOf, type Mail, type MailTransport } from "./pool-mail.ts";

const NAP = new Int32Array(new SharedArrayBuffer(4));
/** How long a receiver waits for mail a record promised (the sender posted it before the record). */
const MAIL_DEADLINE_MS = 30_000;

export class SharedObjects {
  private readonly ids = new WeakMap<SharedArrayBuffer, number>();
  private readonly owned = new Map<number, WeakRef<SharedArrayBuffer>>();
  private readonly adopted = new Map<number, SharedArrayBuffer>();
  private readonly adoptedIds = new WeakMap<SharedArrayBuffer, number>();
  /** Ids peers registered for a buffer this thread sent them first: its own object, held weakly (no cycle). */
  private readonly aliases = new Map<number, WeakRef<SharedArrayBuffer>>();
  private readonly parcels = new Map<number, unknown>();
  /** Long string arguments the main thread mailed, by id, until released. */
  private readonly strings = new Map<number, string>();
  /**
   * What this (main) thread made for one task's argument: a buffer for a large payload, or a long
   * string it mailed. Held strongly until the task ends (`release`); a thread started later gets them.
   */
  private readonly transient = new Map<number, SharedArrayBuffer | string>();
  private retired: Array<[number, SharedArrayBuffer | undefined]> = [];
  private readonly collected = new FinalizationRegistry<number>((id) => this.forget(id));
  private next = 1;
  private readonly base: number;

  /**
   * @param owner 0 on the main thread, worker index + 1 in a worker.
   * @param onOther mail that is not the registry's (arena segments).
   */
  constructor(
    readonly owner: number,
    private readonly transport: MailTransport,
    /** The first local id: a thread that takes over a seat continues where the last one stopped (ids never repeat). */
    firstId = 1,
    private readonly onOther: (mail: Mail) => void = () => {},
  ) {
    this.base = owner << OWNER_SHIFT;
    this.next = firstId >= 1 && firstId <= LOCAL_ID_MASK ? firstId : 1;
  }

  /** Ids this thread owns and peers may hold, plus ids adopted from peers: the registry's size. */
  get size(): number {
    return this.owned.size + this.adopted.size + this.transient.size + this.strings.size;
  }

  /** Ids this thread owns: while there are any, a collection may find some to release. */
  get ownedCount(): number {
    return this.owned.size;
  }

  /** The id of `buf` for sending, registering (and mailing) it the first time this thread sends it. */
  idOf(buf: SharedArrayBuffer): number {
    const known = this.ids.get(buf);
    if (known !== undefined) return known;
    const id = this.newId();
    this.ids.set(buf, id);
    this.owned.set(id, new WeakRef(buf));
    this.collected.register(buf, id);
    this.transport.broadcast({ t: "reg", id, buf, origin: this.adoptedIds.get(buf) ?? 0 });
    return id;
  }

  /** Registers a buffer made for one task (a large argument); the caller releases it when the task ends. */
  registerTransient(buf: SharedArrayBuffer): number {
    const id = this.newId();
    this.transient.set(id, buf);
    this.transport.broadcast({ t: "reg", id, buf, origin: 0 });
    return id;
  }

  /** Mails a long string to every worker (by reference); the caller releases it when its task ends. */
  mailString(s: string): number {
    const id = this.newId();
    this.transient.set(id, s);
    this.transport.broadcast({ t: "str", id, s });
    return id;
  }

  /** A string the main thread mailed (reading mail until it is there). */
  getString(id: number): string {
    return this.awaitMail(this.strings, id, "string");
  }

  /** Tells peers a transient buffer or mailed string is done with. */
  release(id: number): void {
    if (this.transient.delete(id)) this.transport.broadcast({ t: "rel", id });
  }

  /**
   * Mails `value` to one thread, moving the buffers in `transfer` (a payload's own bytes, a long
   * string by reference, or an argument with run's transfer list); returns the parcel's id for the record.
   */
  sendParcel(to: number, value: unknown, transfer: ArrayBuffer[] = []): number {
    const id = this.newId();
    this.transport.send(to, { t: "parcel", id, bytes: value, to }, transfer);
    return id;
  }

  /** Takes the parcel `id` (reading mail until it is there). */
  takeParcel(id: number): unknown {
    const got = this.awaitMail(this.parcels, id, "parcel");
    this.parcels.delete(id);
    return got;
  }

  /** The buffer behind `id`, reading mail until its registration is there. */
  get(id: number): SharedArrayBuffer {
    if (ownerOf(id) === this.owner) {
      const found = this.owned.get(id)?.deref() ?? this.transient.get(id);
      if (found instanceof SharedArrayBuffer) return found;
      throw new ThreadManagerError("ERR_SHARED_UNKNOWN", `shared buffer #${id} was released by this thread while a record named it`);
    }
    const adopted = this.awaitMail(this.adopted, id, "shared buffer");
    return this.aliases.get(id)?.deref() ?? adopted;
  }

  /** Long strings this thread mailed and still holds: what a replacement thread is given at start. */
  mailedStrings(): Array<[number, string]> {
    return [...this.transient].filter((e): e is [number, string] => typeof e[1] === "string");
  }

  /** Every buffer this thread can name: what a replacement thread is given at start. */
  snapshot(): Array<[number, SharedArrayBuffer]> {
    const out: Array<[number, SharedArrayBuffer]> = [...this.adopted];
    for (const [id, ref] of this.owned) {
      const buf = ref.deref();
      if (buf) out.push([id, buf]);
    }
    for (const [id, v] of this.transient) if (v instanceof SharedArrayBuffer) out.push([id, v]);
    return out;
  }

  /** Reads every piece of mail there is now (from every peer, on the main thread). */
  drain(owners: Iterable<number>): void {
    for (const o of owners) for (let m = this.transport.poll(o); m !== undefined; m = this.transport.poll(o)) this.receive(m);
  }

  /** An idle point: no record this thread has yet to decode names a released id; forget them. */
  settle(): void {
    if (this.retired.length === 0) return;
    for (const [id, buf] of this.retired) {
      if (buf === undefined) this.strings.delete(id);
      if (this.adopted.get(id) !== buf) continue; // the id was registered again since
      this.adopted.delete(id);
      this.aliases.delete(id);
    }
    this.retired = [];
  }

  receive(mail: Mail): void {
    switch (mail.t) {
      case "reg": {
        // Held strongly: the peer's own wrapper. Our original, if this is one we sent, only weakly.
        this.adopted.set(mail.id, mail.buf);
        const mine = ownerOf(mail.origin) === this.owner && mail.origin !== 0 ? this.owned.get(mail.origin) : undefined;
        if (mine) this.aliases.set(mail.id, mine);
        else this.adoptedIds.set(mail.buf, mail.id);
        return;
      }
      case "rel": {
        const buf = this.adopted.get(mail.id);
        if (buf && this.adoptedIds.get(buf) === mail.id) this.adoptedIds.delete(buf);
        this.retired.push([mail.id, buf]);
        return;
      }
      case "parcel":
        this.parcels.set(mail.id, mail.bytes);
        return;
      case "str":
        this.strings.set(mail.id, mail.s);
        return;
      default:
        this.onOther(mail);
    }
  }

  /** The entry `id` of `map`, reading mail from its owner until it is there (M2). */
  private awaitMail<V>(map: Map<number, V>, id: number, what: string): V {
    if (!map.has(id)) this.readMailUntil(ownerOf(id), () => map.has(id), `${what} #${id}`);
    return map.get(id)!;
  }

  /** Reads mail from `owner` until `has()` holds: what a record names was posted before the record. */
  readMailUntil(owner: number, has: () => boolean, what: string): void {
    const deadline = performance.now() + MAIL_DEADLINE_MS;
    for (;;) {
      const m = this.transport.poll(owner);
      if (m !== undefined) {
        this.receive(m);
        if (has()) return;
        continue;
      }
      if (performance.now() > deadline) break;
      Atomics.wait(NAP, 0, 0, 0.05); // the sender posted it before the record: it is on its way
    }
    throw new ThreadManagerError("ERR_SHARED_UNKNOWN", `${what} never arrived at this thread (its sender died, or the main thread was blocked for ${MAIL_DEADLINE_MS / 1000} s)`);
  }

  private forget(id: number): void {
    if (this.owned.delete(id)) this.transport.broadcast({ t: "rel", id });
  }

  /** A fresh id: local numbers wrap, skipping ones still in use, so there is no cap over a process's life. */
  private newId(): number {
    for (;;) {
      const id = this.base | this.next;
      this.next = this.next === LOCAL_ID_MASK ? 1 : this.next + 1;
      if (!this.owned.has(id) && !this.parcels.has(id) && !this.transient.has(id)) return id;
    }
  }
}
