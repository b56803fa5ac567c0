/**
 * Main thread: the pool directory of one manager (src/submit/pool-directory.ts) and the threads
 * that may use it. Every thread the manager starts gets the directory and an identity (a token
 * for lane words, a name for metrics); when a thread exits, every pool reaps the lanes it held
 * (src/main/lane-reaper.ts).
 */
import { MAX_LANE_TOKEN } from "../shm/layout.ts";
import type { PoolDirectory, SubmitterIdentity } from "../submit/pool-directory.ts";
import type { TaskPool } from "./task-pool.ts";

export class PoolDirectoryHub {
  private readonly pools: TaskPool[] = [];
  private readonly names = new Map<number, string>();
  private nextToken = 1;
  private built: PoolDirectory | undefined;

  constructor(
    private readonly mapping: Record<string, string> = {},
    private readonly natives: string[] = [],
  ) {}

  /** Adds a pool; all of them before the first thread starts. */
  add(pool: TaskPool): void {
    if (this.built) throw new Error("pool directory: a pool was added after threads started");
    this.pools.push(pool);
    pool.connect(this);
  }

  get directory(): PoolDirectory {
    this.built ??= { pools: this.pools.map((p) => p.target()), mapping: this.mapping, natives: this.natives };
    return this.built;
  }

  /** A thread about to start: its token and name. */
  newIdentity(name: string): SubmitterIdentity {
    const token = this.nextToken;
    this.nextToken = token >= MAX_LANE_TOKEN ? 1 : token + 1;
    this.names.set(token, name);
    return { token, name };
  }

  /** The name of the thread with `token` (metrics' `submitter` label); "exited" once it is gone. */
  nameOf(token: number): string {
    return this.names.get(token) ?? "exited";
  }

  /** A thread exited: its lanes in every pool are reaped. */
  exited(token: number): void {
    for (const p of this.pools) p.reaper.exited(token);
    this.names.delete(token);
  }
}

/** A pool started without a manager gets a directory of its own (its threads can call it). */
export async function startAlone(pool: TaskPool): Promise<void> {
  new PoolDirectoryHub().add(pool);
  await pool.startThreads();
}
