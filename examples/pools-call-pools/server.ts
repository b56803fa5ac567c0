// Runs on every thread of the "web" pool. Its routes hand CPU work to the compute pool directly:
// no hop through the main thread, and the completion comes straight back to this thread.
import type { ServeContext } from "bun-thread-manager";
import { poolHandler } from "bun-thread-manager/serve";

export default ({ pools, threadIndex }: ServeContext) => {
  const cpu = pools.compute("cpu");
  return {
    routes: {
      "/hash": poolHandler(cpu, "sha256", (req) => req.text()),
      "/fib/:n": async (req: Bun.BunRequest<"/fib/:n">) => Response.json({ fib: await cpu.run("fib", Number(req.params.n)), thread: threadIndex }),
    },
    fetch: () => new Response("not found", { status: 404 }),
    error: () => new Response("internal error", { status: 500 }),
  };
};
