/**
 * The three ways to call a pool, side by side in one mitata run after the same warm-up:
 * `pool.run("add", arg)` by name, a typed handle `pool.bind<M>().add(arg)`, and the runtime
 * plugin's `import { add } from "pool:bench"`. Each sample submits 256 tiny tasks and awaits them
 * all (2 static threads), so one sample's time / 256 is the per-call cost including dispatch; the
 * difference between rows is what the handle or the plugin adds. A second group times the call
 * layer alone: the same handle and plugin functions with the pool's run() swapped for a stub.
 *
 * Run: bun run bench/handles.bench.ts
 */
import { bench, do_not_optimize, group, run, summary } from "mitata";
import "../src/plugin.ts";
import { ThreadManager } from "../src/index.ts";

const MODULE = new URL("./fixtures/bench-handlers.ts", import.meta.url);
type Handlers = typeof import("./fixtures/bench-handlers.ts");
const BATCH = 256;

const tm = await ThreadManager.start({ compute: { bench: { module: MODULE, static_threads: 2, dynamic_threads: 0, max_threads: 2, scaler: { enabled: false } } } });
const pool = tm.compute("bench");
const handle = pool.bind<Handlers>();
const plugin = (await import("pool:bench" as string)) as { add: (arg: [number, number]) => Promise<number> };

async function batch(call: (i: number) => Promise<unknown>): Promise<void> {
  const all: Promise<unknown>[] = new Array(BATCH);
  for (let i = 0; i < BATCH; i++) all[i] = call(i);
  await Promise.all(all);
}
const byName = () => batch((i) => pool.run("add", [i, 1]));
const byHandle = () => batch((i) => handle.add([i, 1]));
const byPlugin = () => batch((i) => plugin.add([i, 1]));
for (let k = 0; k < 2000; k++) { // the same warm-up for all three (JIT tiers: docs/bun-platform.md)
  await byName();
  await byHandle();
  await byPlugin();
}

summary(() => {
  group(`${BATCH} tiny tasks in flight, awaited together (per sample)`, () => {
    bench("run(\"add\", arg) by name", byName);
    bench("typed handle: bind<M>().add(arg)", byHandle);
    bench("plugin: import { add } from \"pool:bench\"", byPlugin);
  });
});

await run(); // mitata clears what it ran: the stubbed group below runs on its own

// The call layer alone: the real handle and plugin exports, with this pool's run() swapped for a
// stub that returns at once, so what is timed is what each form does before it reaches run().
const stubRun = ((_name: string, arg: unknown) => arg) as unknown as typeof pool.run;
const realRun = pool.run;
pool.run = stubRun;
summary(() => {
  group("call layer only (the pool's run() stubbed: no dispatch)", () => {
    bench("run(\"add\", arg)", () => do_not_optimize(pool.run("add", [1, 2])));
    bench("typed handle .add(arg)", () => do_not_optimize(handle.add([1, 2])));
    bench("plugin export add(arg)", () => do_not_optimize(plugin.add([1, 2])));
  });
});
await run();
pool.run = realRun;
await tm.close();
