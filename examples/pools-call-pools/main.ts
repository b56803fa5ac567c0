// bun run main.ts: a serving pool whose routes call a compute pool; an async task that calls it too.
import { join } from "node:path";
import { ThreadManager } from "bun-thread-manager";

const tm = await ThreadManager.fromFile(join(import.meta.dir, "threads.toml"));
const { url } = tm.async("web").server!;
console.log("serving on", url);

const hash = await (await fetch(new URL("/hash", url), { method: "POST", body: "hello" })).text();
console.log("POST /hash hello =", hash.slice(0, 16));
console.log("GET /fib/25 =", JSON.stringify(await (await fetch(new URL("/fib/25", url))).json()));
console.log("hashLines on web, hashed on cpu:", (await tm.async("web").run<string[]>("hashLines", "a\nb\nc")).map((h) => h.slice(0, 8)).join(" "));

const cpu = tm.compute("cpu").metrics();
console.log("tasks on cpu by submitter:", cpu.submitters.map((s) => `${s.submitter} ${s.submitted}`).join(", "));
await tm.close();
console.log("closed");
