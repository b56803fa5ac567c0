/**
 * Runs one regime of the contention experiments: the app (app.ts) in its own process, HTTP load
 * against its servers, the compute jobs it finished meanwhile. Shared by core_contention_basics.ts
 * (and `bun run demo`) and core_contention_sweep.ts.
 */
import { layoutFor, type Layout, type Regime } from "./regimes.ts";
import { pinned, runLoad, type LoadResult } from "./load.ts";

export interface RegimeResult extends LoadResult {
  regime: Regime;
  cores: number;
  jobsPerSec: number;
}

export interface RunOptions {
  /** The cores the experiment may use (default: every core this process may use). */
  cores: number[];
  seconds: number;
  warmupSeconds?: number;
  connections?: number;
  generator?: "wrk" | "built-in";
  /** The HTTP route: "/" (a small JSON answer) or "/wait" (after a 1 ms timer, as the seed's service). */
  path?: string;
  /** SHA-256 passes over 1 MiB per compute job (default 8: a few ms, so the compute threads never idle). */
  rounds?: number;
  /** Called about every second with the seconds done (a progress line). */
  progress?: (regime: Regime, done: number, total: number) => void;
}

/** Whether `regime` can run on `layout` (dedicated needs a core for each side; piscina needs piscina). */
export async function available(regime: Regime, layout: Layout): Promise<string | undefined> {
  if (regime === "dedicated" && layout.compute.length === 0) return "needs at least 2 cores";
  if (regime === "piscina") {
    try {
      await import("piscina");
    } catch {
      return "piscina is not installed (bun add -d piscina)";
    }
  }
  return undefined;
}

export async function runRegime(regime: Regime, o: RunOptions): Promise<RegimeResult> {
  const layout = layoutFor(o.cores);
  const spec = JSON.stringify({ regime, cores: o.cores, rounds: o.rounds ?? 8 });
    // The app is pinned to its cores, so OsDefault means them (the sweep gives it fewer than the machine's).
  const app = Bun.spawn([...pinned(layout.app), process.execPath, new URL("./app.ts", import.meta.url).pathname, spec], {
    stdin: "pipe", stdout: "pipe", stderr: "inherit",
  });
  const lines = readLines(app.stdout);
  try {
    const ready = await expectLine(lines, "READY ");
    const url = `http://127.0.0.1:${JSON.parse(ready).port}${o.path ?? "/"}`;
    await runLoad(url, o.warmupSeconds ?? 1, layout.load, o.connections, o.generator); // JIT, connections, caches
    app.stdin.write("mark\n");
    app.stdin.flush();
    const ticker = o.progress ? tick(regime, o.seconds, o.progress) : undefined;
    const load = await runLoad(url, o.seconds, layout.load, o.connections, o.generator).finally(() => clearInterval(ticker));
    app.stdin.write("stop\n");
    app.stdin.flush();
    const result = JSON.parse(await expectLine(lines, "RESULT "));
    await app.exited;
    return { ...load, regime, cores: o.cores.length, jobsPerSec: result.jobs / result.seconds };
  } finally {
    app.kill();
  }
}

function tick(regime: Regime, total: number, progress: NonNullable<RunOptions["progress"]>) {
  const start = performance.now();
  progress(regime, 0, total);
  return setInterval(() => progress(regime, Math.min(total, Math.round((performance.now() - start) / 1000)), total), 1000);
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream) {
    buffered += new TextDecoder().decode(chunk);
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}

/** The next line starting with `prefix` (next(), not for-await: leaving a for-await would close the generator). */
async function expectLine(lines: AsyncGenerator<string>, prefix: string): Promise<string> {
  for (let r = await lines.next(); !r.done; r = await lines.next()) if (r.value.startsWith(prefix)) return r.value.slice(prefix.length);
  throw new Error(`the regime's app exited before printing ${prefix.trim()}`);
}
