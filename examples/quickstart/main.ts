// bun run main.ts: starts two pools, runs a few tasks on each, prints what happened, closes.
import { join } from "node:path";
import { ThreadManager, TaskError } from "bun-thread-manager";

const tm = await ThreadManager.start({
  compute: { cpu: { module: join(import.meta.dir, "cpu.ts"), max_threads: 2 } },
  async: { io: { module: join(import.meta.dir, "io.ts"), worker_threads: 1, concurrency: 64 } },
});
const cpu = tm.compute("cpu");
const io = tm.async("io");

console.log("add([1, 2]) =", await cpu.run("add", [1, 2]));
console.log("fib(27) =", await cpu.run("fib", 27), "(fork-join across the pool)");

const data = new Float64Array(new SharedArrayBuffer(8 * 1_000_000)).fill(0.5);
console.log("sum of 1M halves =", await cpu.parallelFor("sum", 0, data.length, { arg: data }));

const hashes = await Promise.all(["a", "b", "c"].map((s) => cpu.run<string>("sha256", s.repeat(100_000))));
console.log("sha256 of three 100 KB strings:", hashes.map((h) => h.slice(0, 12)).join(", "));

console.log("lines in main.ts =", await io.run("countLines", join(import.meta.dir, "main.ts")));
try {
  await io.run("sleep", 10_000, { signal: AbortSignal.timeout(50) });
} catch (e) {
  console.log("sleep(10 s) with a 50 ms timeout:", (e as Error).name);
}
try {
  await cpu.run("sqrt", -1);
} catch (e) {
  console.log("a handler that throws:", e instanceof TaskError ? "TaskError" : e, "-", (e as Error).message);
}

for (const t of tm.threads()) console.log(`thread ${t.name.padEnd(15)} role ${t.role.padEnd(7)} cores ${t.cores.join(",")}`);
await tm.close();
console.log("closed");
