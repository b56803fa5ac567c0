/**
 * The three ways to call a pool, side by side in one mitata run after the same warm-up:
 * `pool.run("add", arg)` by name, a typed handle `pool.bind<M>().add(arg)`, and the runtime
 * plugin's `import { add } from "pool:bench"`. Each sample submits 256 tiny tasks and awaits them
 * all (2 static threads), so one sample's time / 256 is the per-call cost including dispatch; the
 * difference between rows is what the handle or the plugin adds. A second group times the call
 * layer alone against a pool stub (no dispatch): what each form costs above a plain method call.
 *
 * Run: bun run bench/handles.bench.ts
 */
import { bench, do_not_optimize, group, run, summary } from "mitata";
import "../src/plugin.ts";
import { ThreadManager } from "../src/index.ts";
import { handleOf } from "../src/main/pool-handle.ts";

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
for (let k = 0; k < 2000; k++) { // the same warm-up for all three (JIT tiers: PLATFORM.md)
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

// The call layer alone: what each form does before it reaches run(), against a stub run().
const stub = { run: (_name: string, arg: unknown) => arg };
const stubHandle = handleOf<{ add: (arg: unknown) => unknown }>(["add"], (name, arg) => stub.run(name, arg) as Promise<unknown>);
const stubPlugin = { add: (arg?: unknown, options?: unknown) => stub.run("add", arg) };
summary(() => {
  group("call layer only (stub run(): no dispatch)", () => {
    bench("run(\"add\", arg)", () => do_not_optimize(stub.run("add", 1)));
    bench("typed handle .add(arg)", () => do_not_optimize(stubHandle.add(1)));
    bench("plugin export add(arg)", () => do_not_optimize(stubPlugin.add(1, undefined)));
  });
});

await run();
await tm.close();
