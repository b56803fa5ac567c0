/**
 * One regime of the contention experiments, in its own process (fresh threads and placement each
 * time): starts the HTTP pool's servers and a compute job stream that keeps the CPU pool busy, says
 * `READY {"port": ...}` on stdout, then obeys lines on stdin: `mark` starts the measured window,
 * `stop` prints `RESULT {"jobs": ..., "seconds": ...}` for the window and exits.
 *
 * Run by experiment.ts: bun examples/contention/app.ts '{"regime":"shared","cores":[0,1]}'
 */
import { ThreadManager } from "../../src/index.ts";
import { computeThreads, configFor, layoutFor, type Regime } from "./regimes.ts";

const spec = JSON.parse(process.argv[2] ?? "{}") as { regime: Regime; cores: number[]; rounds?: number };
const layout = layoutFor(spec.cores);
const rounds = spec.rounds ?? 1;
const tm = await ThreadManager.start(configFor(spec.regime, layout));

let runJob: () => Promise<unknown>;
let closePiscina = async () => {};
if (spec.regime === "piscina") {
  const { Piscina } = await import("piscina"); // a devDependency: experiment.ts skips this regime without it
  const piscina = new Piscina({ filename: new URL("./piscina-jobs.ts", import.meta.url).href });
  runJob = () => piscina.run(rounds);
  closePiscina = () => piscina.destroy();
} else if (spec.regime === "alone") {
  runJob = async () => {};
} else {
  const cpu = tm.compute("cpu");
  runJob = () => cpu.run("hash", rounds);
}

let jobs = 0;
let stopping = false;
const lanes = Array.from({ length: 2 * computeThreads(spec.regime, layout) }, async () => {
  while (!stopping) {
    await runJob();
    jobs++;
  }
});

let markedAt = performance.now();
console.log(`READY ${JSON.stringify({ port: tm.async("http").server!.port })}`);
for await (const chunk of Bun.stdin.stream()) {
  for (const line of new TextDecoder().decode(chunk).split("\n")) {
    if (line === "mark") {
      jobs = 0;
      markedAt = performance.now();
    } else if (line === "stop") {
      const seconds = (performance.now() - markedAt) / 1000;
      console.log(`RESULT ${JSON.stringify({ jobs, seconds })}`);
      stopping = true;
      await Promise.all(lanes);
      await closePiscina();
      await tm.close({ timeoutMs: 2000 });
      process.exit(0);
    }
  }
}
