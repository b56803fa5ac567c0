/** PoolQueues' inboxes: records for one worker by name, room as the one producer sees it, and the reset crash repair does. */
import { expect, test } from "bun:test";
import { PoolQueues } from "../../src/shm/index.ts";
import { INJ_HEAD } from "../../src/shm/layout.ts";

const rec = (id: number) => Int32Array.of(id, 0, 0, 0);

test("submitTo queues for one worker only; room is exact for the one producer; full is refused, not waited on", () => {
  const pool = PoolQueues.allocate({ workers: 2, recordWords: 4, inboxCapacity: 4 });
  expect(pool.inboxRoom(1)).toBe(4);
  for (let i = 0; i < 4; i++) expect(pool.submitTo(1, rec(i))).toBe(true);
  expect(pool.inboxRoom(1)).toBe(0);
  expect(pool.submitTo(1, rec(9))).toBe(false);
  expect(pool.inboxRoom(0)).toBe(4); // the other worker's inbox is untouched
  expect(pool.pending()).toBe(4);
  const out = new Int32Array(4);
  expect(pool.takeFromInbox(0, out)).toBe(false);
  const got: number[] = [];
  while (pool.takeFromInbox(1, out)) got.push(out[0]!);
  expect(got).toEqual([0, 1, 2, 3]); // oldest first
});

test("a consumer that died inside a take leaves a cell that refuses the next lap's push; resetInbox makes the inbox whole again", () => {
  const pool = PoolQueues.allocate({ workers: 1, recordWords: 4, inboxCapacity: 2 });
  const w = new Int32Array(pool.refs.inboxes[0]!.buffer, pool.refs.inboxes[0]!.byteOffset);
  const out = new Int32Array(4);
  expect(pool.submitTo(0, rec(1))).toBe(true);
  Atomics.add(w, INJ_HEAD, 1); // a worker claims position 0 and dies before it frees the cell
  expect(pool.submitTo(0, rec(2))).toBe(true); // position 1
  expect(pool.takeFromInbox(0, out)).toBe(true);
  expect(out[0]).toBe(2);
  expect(pool.inboxRoom(0)).toBe(2); // the producer sees room...
  expect(pool.submitTo(0, rec(3))).toBe(false); // ...but position 2 lands on the stuck cell
  pool.resetInbox(0);
  for (const id of [4, 5]) expect(pool.submitTo(0, rec(id))).toBe(true);
  const got: number[] = [];
  while (pool.takeFromInbox(0, out)) got.push(out[0]!);
  expect(got).toEqual([4, 5]);
});
