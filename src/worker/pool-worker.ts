/**
 * Entry script of every compute and async pool thread. Receives its setup once (the only
 * postMessage it gets on the way in, apart from async aborts), loads the handler module, says
 * which handlers it has, then serves tasks from shared memory until the pool shuts down.
 */
import { handlerNames, type PoolWorkerHello, type PoolWorkerSetup } from "../common/pool-setup.ts";
import { gettid } from "../platform/libc.ts";
import { placeSelf } from "../platform/placement.ts";
import { AsyncRuntime } from "./async-runtime.ts";
import { PoolServer } from "./pool-server.ts";
import { RequestStats } from "../common/request-stats.ts";
import { ComputeRuntime } from "./compute-runtime.ts";
import { WorkerCore } from "./worker-core.ts";
import { importModule } from "./module-load.ts";
import { ThreadPools } from "../submit/thread-pools.ts";
import { setThreadPools } from "../submit/thread-global.ts";
import { registerPoolPlugin } from "../plugin.ts";

declare const self: Worker;

function hello(msg: PoolWorkerHello): void {
  self.postMessage(msg);
}

self.onmessage = async (event: MessageEvent<PoolWorkerSetup>) => {
  const setup = event.data;
  self.onmessage = null;
  const refused = placeSelf(setup.placement);
  if (refused) {
    hello({ type: "failed", error: `${refused.operation}: ${refused.errno}`, placement: refused });
    return;
  }
  const pools = new ThreadPools(setup.directory, setup.identity, setup.kind === "compute" ? setup.pool : undefined);
  setThreadPools(pools); // `pool:` imports in the modules below resolve through this thread's lanes
  registerPoolPlugin(); // preloads are not inherited by Workers
  let mod: Record<string, unknown> = {}; // a pool that only serves HTTP has no handler module
  try {
    if (setup.module !== "") {
      hello({ type: "loading", module: setup.module });
      mod = await importModule(setup.module);
    }
  } catch (e) {
    hello({ type: "failed", error: `cannot load module ${setup.module}: ${(e as Error)?.message ?? e}` });
    return;
  }
  let server: PoolServer | undefined;
  if (setup.serve) {
    try {
      hello({ type: "loading", module: setup.serve.module, serve: true });
      server = await PoolServer.start(setup.serve, setup.pool, setup.index, setup.queues.deques.length, pools, RequestStats.attach(setup.serve.stats, setup.queues.deques.length));
    } catch (e) {
      hello({ type: "failed", error: `serve module ${setup.serve.module}: ${(e as Error)?.message ?? e}`, serve: setup.serve.module });
      return;
    }
  }
  const tid = gettid();
  const names = handlerNames(mod);
  const core = new WorkerCore(setup, mod, names);
  core.control.seatReady(setup.index, tid);
  hello({ type: "ready", handlers: names, tid, serving: server?.at });
  let ended: "closed" | "retired";
  if (setup.kind === "compute") {
    // A compute handler's stray timer or promise fails nothing: counted and logged, the thread serves on.
    process.on("uncaughtException", (e) => core.fault("an uncaught exception", e));
    process.on("unhandledRejection", (e) => core.fault("an unhandled rejection", e));
    ended = await new ComputeRuntime(core, tid).run();
  } else {
    const runtime = new AsyncRuntime(core, setup.concurrency, tid, pools);
    self.onmessage = (e: MessageEvent) => runtime.onControl(e.data);
    ended = await runtime.run();
    self.onmessage = null;
    await server?.stop(); // "closed": the pool is shutting down; its close deadline bounds this
  }
  if (ended === "retired") {
    // Left the pool cleanly (no task held, deque empty): say so first, so the exit is not read as a crash.
    core.control.seatGone(setup.index); // RETIRE-X2
    hello({ type: "retired" }); // RETIRE-X3
    return;
  }
  self.postMessage({ type: "stopped" });
};
