/**
 * Worker side of an async pool with `serve`: this thread's own Bun.serve, on the port every thread
 * of the pool shares (reusePort: the kernel spreads connections over the threads' sockets). The
 * module's default export is Bun.serve options, or a function of { pool, threadIndex } returning
 * them. Stopped gracefully when the pool closes (in-flight requests finish; the pool's close
 * deadline bounds it).
 */
import type { Server } from "bun";
import type { ThreadPools } from "../submit/thread-pools.ts";
import type { RequestStats } from "../common/request-stats.ts";
import { importModule } from "./module-load.ts";
import { otherListeners } from "../platform/port-holder.ts";

export interface ServeSetup {
  /** file: URL of the serve module. */
  module: string;
  /** From the config; undefined: the module's own port (or Bun's default). */
  port?: number;
  /** Start even when another process listens on the port (share_port: a rolling restart). */
  sharePort?: boolean;
  /** Requests answered per seat (src/common/request-stats.ts). */
  stats: SharedArrayBuffer;
}

/** What a serve module's default export receives when it is a function. */
export interface ServeContext {
  pool: string;
  /** The thread's seat in the pool (0 .. worker_threads - 1). */
  threadIndex: number;
  /**
   * Every pool of the manager, from this serving thread.
   * @example export default ({ pools }: ServeContext) => ({ routes: { "/hash": poolHandler(pools.compute("cpu"), "sha256", (req) => req.text()) } });
   */
  pools: ThreadPools;
}

/** What the thread reports once its server listens. */
export interface ServingAt {
  port: number;
  url: string;
}

export class PoolServer {
  private constructor(private readonly server: Server<unknown>) {}

  get at(): ServingAt {
    return { port: this.server.port!, url: this.server.url.href };
  }

  /** Loads the module and listens; throws an Error whose message says what is wrong with the module or the port. */
  static async start(setup: ServeSetup, pool: string, threadIndex: number, threads: number, pools: ThreadPools, stats: RequestStats): Promise<PoolServer> {
    const mod = (await importModule(setup.module)) as { default?: unknown };
    let options = mod.default;
    if (typeof options === "function") options = await options({ pool, threadIndex, pools } satisfies ServeContext);
    if (options === null || typeof options !== "object") {
      throw new Error(`has no default export of Bun.serve options (got ${options === undefined ? "no default export" : typeof options}): export default { fetch(req) { ... } }`);
    }
    const o = options as Record<string, unknown>;
    if (typeof o.fetch !== "function" && (o.routes === null || typeof o.routes !== "object")) {
      throw new Error("default export has neither fetch nor routes: Bun.serve needs one of them");
    }
    if (o.reusePort === false) throw new Error("sets reusePort: false, but every thread of the pool listens on the same port");
    if (o.unix !== undefined) throw new Error("listens on a unix socket, which threads cannot share: give it a port");
    const port = setup.port ?? o.port;
    if (setup.port === undefined && Number(o.port) === 0 && threads > 1) {
      throw new Error(`sets port: 0, which would give each of the pool's ${threads} threads its own random port: set port = 0 in the pool's config instead (one free port for all threads)`);
    }
    const counted = countRequests(o, (ms, status) => stats.record(threadIndex, ms, status));
    const fixed = Number(port);
    if (threadIndex === 0 && !setup.sharePort && Number.isInteger(fixed) && fixed > 0) {
      const others = otherListeners(fixed);
      if (others.length > 0) {
        const who = others.map((h) => (h.pid ? `pid ${h.pid}${h.command ? ` (${h.command.slice(0, 120)})` : ""}` : "a process /proc does not show")).join(", ");
        throw new Error(`port ${fixed} is already listened on by ${who}: with reusePort both would get connections (an old copy of this app still running?). Stop it, or set share_port = true for a deliberate rolling restart`);
      }
    }
    try {
      const server = Bun.serve({ ...counted, ...(port === undefined ? {} : { port }), reusePort: true } as Parameters<typeof Bun.serve>[0]);
      closeConnectionsOnExit(server);
      return new PoolServer(server);
    } catch (e) {
      const why = (e as Error)?.message ?? String(e);
      const taken = /in use|EADDRINUSE/i.test(why);
      throw new Error(`cannot listen on port ${port ?? "(Bun's default)"}: ${why}${taken ? " (taken by a socket without SO_REUSEPORT, e.g. another program or a Bun.serve without reusePort: choose another port or stop it)" : ""}`);
    }
  }

  /** Stops accepting, lets in-flight requests finish. */
  async stop(): Promise<void> {
    await this.server.stop(false);
  }
}

/**
 * A handler that calls `process.exit` ends the thread before it answers; Bun then replies to that
 * request with its own 200 "Welcome to Bun!" page. Closing this thread's connections first makes
 * the client see what happened (the connection closed) instead of a success.
 */
function closeConnectionsOnExit(server: Server<unknown>): void {
  const exit = process.exit.bind(process);
  process.exit = ((code?: number) => {
    void server.stop(true);
    return exit(code);
  }) as typeof process.exit;
}

type Handler = (req: Request, server: unknown) => Response | Promise<Response> | undefined | Promise<Response | undefined>;

/**
 * The options with every function that answers requests (`fetch`, route functions, per-method
 * route functions) timed: `record(ms, status)` once per answer; a throw counts as a 500 (Bun's
 * `error` handler answers it). Static Responses are answered by Bun without JS and not counted.
 */
function countRequests(o: Record<string, unknown>, record: (ms: number, status: number) => void): Record<string, unknown> {
  const timed = (fn: Handler): Handler => async (req, server) => {
    const t0 = performance.now();
    try {
      const r = await fn(req, server);
      record(performance.now() - t0, r?.status ?? 200);
      return r;
    } catch (e) {
      record(performance.now() - t0, 500);
      throw e;
    }
  };
  const wrap = (v: unknown): unknown => {
    if (typeof v === "function") return timed(v as Handler);
    if (v !== null && typeof v === "object" && !(v instanceof Response)) {
      return Object.fromEntries(Object.entries(v).map(([method, h]) => [method, typeof h === "function" ? timed(h as Handler) : h]));
    }
    return v;
  };
  const out = { ...o };
  if (typeof o.fetch === "function") out.fetch = timed(o.fetch as Handler);
  if (o.routes !== null && typeof o.routes === "object") out.routes = Object.fromEntries(Object.entries(o.routes).map(([path, v]) => [path, wrap(v)]));
  return out;
}
