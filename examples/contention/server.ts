/**
 * The latency-sensitive service of the contention experiments, as a `serve` module: every thread
 * of the HTTP pool runs it (reusePort). `/` answers a small JSON document at once; `/wait` first
 * awaits a 1 ms timer, as the seed's service does.
 */
export default ({ threadIndex }: { pool: string; threadIndex: number }) => ({
  routes: {
    "/": () => Response.json({ ok: true, thread: threadIndex }),
    "/wait": async () => {
      await Bun.sleep(1);
      return Response.json({ ok: true, thread: threadIndex });
    },
  },
  fetch: () => new Response("not found", { status: 404 }),
});
