/**
 * Bun.serve helpers (`bun-thread-manager/serve`): a route handler that runs a pool task per
 * request and maps the pool's errors to HTTP, so a server under load answers instead of piling up.
 * - `PoolBusyError` (past max_queue) and `PoolClosedError` (shutting down): 503 with Retry-After.
 * - `TaskError` (the handler threw): 500 with a generic body; the error, stack included, is logged
 *   here, never sent to the client.
 * - The request's own signal aborts the task: a client that goes away cancels a queued task, and a
 *   running async handler sees `ctx.signal` fire.
 * - A request the `arg` function cannot turn into an argument (it threw), or whose argument the pool
 *   cannot send (an oversized body, a value that cannot be copied), is the client's: 400 or 413
 *   with a body that says only that; the details are logged here, never sent (an `arg` error can
 *   carry anything: a connection string, a path).
 * - A result that cannot be sent back (too large, not copyable) is the server's: 500, generic body,
 *   logged.
 * - Works the same on a serving pool thread: pass `pools.compute("cpu")` from the serve factory's
 *   context.
 *
 * @example
 * Bun.serve({ port: 0, routes: { "/hash": poolHandler(tm.compute("cpu"), "hash", (req) => req.text()) } });
 */
export { registerPoolMetrics, type PromClientLike } from "./prom-client.ts";
import {
  DataCloneError, HandlerNotFoundError, InvalidArgumentError, PayloadTooLargeError, PoolBusyError, PoolClosedError, PoolNotFoundError, TaskError,
} from "./errors.ts";
import { isResultRefusal } from "./common/error-codec.ts";
import type { ThreadManager } from "./main/thread-manager.ts";
import type { RunOptions } from "./submit/run-options.ts";

export interface PoolHandlerOptions {
  /** Seconds in the Retry-After header of a 503 (default 1). */
  retryAfter?: number;
  /** Turns the task's result into the response. Default: strings as text, bytes as octets, undefined as 204, else JSON. */
  respond?: (result: unknown, req: Request) => Response | Promise<Response>;
}

/** What runs a task: a pool (`tm.compute("cpu")`, or `pools.compute("cpu")` on a pool thread). */
export interface Runner {
  run(handler: string, arg?: unknown, options?: RunOptions): Promise<unknown>;
}

/** A pool, or a pool name resolved through the manager's [mapping] (compute first, then async) on each request. */
export type PoolTarget = Runner | { manager: ThreadManager; pool: string };

/**
 * A `fetch`/route handler: `await pool.run(handler, await arg(req), { signal: req.signal })`, with
 * the pool's errors mapped to HTTP (see the file comment). `arg` defaults to no argument.
 */
export function poolHandler<A>(
  target: PoolTarget,
  handler: string,
  arg?: (req: Request) => A | Promise<A>,
  options: PoolHandlerOptions = {},
): (req: Request) => Promise<Response> {
  const respond = options.respond ?? defaultResponse;
  const retryAfter = String(options.retryAfter ?? 1);
  return async (req) => {
    let value: A | undefined;
    try {
      value = arg ? await arg(req) : undefined;
    } catch (e) {
      console.error(`bun-thread-manager/serve: ${req.method} ${new URL(req.url).pathname}: the argument function of handler "${handler}" threw (answered 400):`, e);
      return text(400, "Bad Request");
    }
    try {
      const result = await poolOf(target).run(handler, value, { signal: req.signal });
      return await respond(result, req);
    } catch (e) {
      return errorResponse(e, req, handler, retryAfter);
    }
  };
}

/** A `/metrics` route: `tm.prometheus()` as `text/plain; version=0.0.4`. */
export function metricsHandler(manager: ThreadManager): (req: Request) => Response {
  return () => new Response(manager.prometheus(), { headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" } });
}

function poolOf(target: PoolTarget): Runner {
  if (!("manager" in target)) return target;
  const { manager, pool } = target;
  const found = manager.tryCompute(pool) ?? manager.tryAsync(pool);
  if (!found) throw new PoolNotFoundError(pool, "compute", []);
  return found;
}

function errorResponse(e: unknown, req: Request, handler: string, retryAfter: string): Response {
  if (e instanceof PoolBusyError || e instanceof PoolClosedError) {
    return text(503, "Service Unavailable: try again later", { "Retry-After": retryAfter });
  }
  if (req.signal.aborted) return text(499, "Client Closed Request"); // nobody reads it; the task was cancelled
  const where = `bun-thread-manager/serve: ${req.method} ${new URL(req.url).pathname}: handler "${handler}"`;
  if (isResultRefusal(e)) {
    console.error(`${where}: its result could not be sent back (answered 500):`, e);
    return text(500, "Internal Server Error");
  }
  if (e instanceof PayloadTooLargeError) {
    console.error(`${where}: the request's argument is too large (answered 413):`, e.message);
    return text(413, "Payload Too Large");
  }
  if (e instanceof DataCloneError || e instanceof InvalidArgumentError) {
    console.error(`${where}: the request's argument could not be sent to the pool (answered 400):`, e.message);
    return text(400, "Bad Request: the request body cannot be sent to the handler");
  }
  if (e instanceof TaskError) {
    // The stack as text: the error object would be printed twice (its `cause`, the original, is printed too).
    console.error(`${where} of pool "${e.pool}" failed: ${e.stack ?? `${e.name}: ${e.message}`}`);
    return text(500, "Internal Server Error");
  }
  // A server fault (unknown handler or pool, a throwing `respond`): logged here, a generic 500 out.
  console.error(`${where}:`, e instanceof HandlerNotFoundError || e instanceof PoolNotFoundError ? e.message : e);
  return text(500, "Internal Server Error");
}

function defaultResponse(result: unknown): Response {
  if (result === undefined) return new Response(null, { status: 204 });
  if (typeof result === "string") return new Response(result, { headers: { "Content-Type": "text/plain; charset=utf-8" } });
  if (result instanceof Uint8Array || result instanceof ArrayBuffer) return new Response(result, { headers: { "Content-Type": "application/octet-stream" } });
  return Response.json(result);
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } });
}
