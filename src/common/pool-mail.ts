/**
 * Mail between the threads of one pool: what cannot live in shared memory words (new arena
 * segments, SharedArrayBuffers, payloads too big for the arena) goes by MessagePort, off the task
 * path. Each worker has one port to the main thread; the main thread relays what one worker sends
 * to the others. A task record that needs a piece of mail names it; the receiver reads its port
 * synchronously (`receiveMessageOnPort`) until the piece is there (PROTOCOL.md, "Mail").
 *
 * Ids are owned by the thread that made them: owner 0 is the main thread, owner i + 1 worker i;
 * `id = owner << OWNER_SHIFT | n`. A thread only ever sends ids it owns.
 */
import type { SharedRef } from "../shm/layout.ts";

export const OWNER_SHIFT = 22;
export const LOCAL_ID_MASK = (1 << OWNER_SHIFT) - 1;
/** Mail addressed to the main thread. */
export const TO_MAIN = -1;

export type Mail =
  /** main -> workers: a new arena segment. */
  | { t: "seg"; ref: SharedRef }
  /** owner -> every peer: `buf` is known as `id` from now on; `origin` is the id the sender got it under, or 0. */
  | { t: "reg"; id: number; buf: SharedArrayBuffer; origin: number }
  /** owner -> every peer: `id` will not be sent again; forget it once no record can still name it. */
  | { t: "rel"; id: number }
  /**
   * one thread -> one other: the bytes of a payload too big for the arena, or that found it full;
   * or a long string itself (Bun's postMessage passes strings by reference: no copy at all); or
   * (main -> the one worker that will run the task) an argument with run's transfer list, moved.
   */
  | { t: "parcel"; id: number; bytes: unknown; to: number }
  /** main -> every worker: a long string argument, by reference; released (`rel`) when its task ends. */
  | { t: "str"; id: number; s: string };

/** How one thread's registry reaches its peers. */
export interface MailTransport {
  /** Posts to every peer of the pool (a worker posts to the main thread, which relays). */
  broadcast(mail: Mail, transfer?: ArrayBuffer[]): void;
  /** Posts to one thread (TO_MAIN or a worker index); from a worker, through the main thread. */
  send(to: number, mail: Mail, transfer?: ArrayBuffer[]): void;
  /** The next mail that came from the owner of ids of `owner` (a worker: all mail comes from main). */
  poll(owner: number): Mail | undefined;
}

export function ownerOf(id: number): number {
  return id >>> OWNER_SHIFT;
}
