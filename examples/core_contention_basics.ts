/**
 * Why core contention hurts, and what thread placement buys (the seed's core_contention_basics,
 * redone for Bun): a latency-sensitive HTTP service (servers on an async pool's threads) next to a
 * compute pool kept busy with SHA-256 jobs, under four regimes:
 *   (a) shared: both pools on every core, as many threads as cores each (what users do today)
 *   (b) dedicated: HTTP and compute on their own cores
 *   (c) shared cores, but the compute pool at policy IDLE
 *   (d) shared, with piscina (its defaults) as the CPU pool
 * Per regime: HTTP requests/s and latency percentiles under load (wrk, or a built-in generator when
 * wrk is missing: apt-get install wrk), and compute jobs/s.
 *
 * bun examples/core_contention_basics.ts [--seconds 10] [--json out.json] [--generator wrk|built-in]
 * `bun run demo` runs it with the defaults.
 */
import { parseArgs } from "node:util";
import { allowedCores } from "../src/platform/cpus.ts";
import { available, runRegime, type RegimeResult } from "./contention/experiment.ts";
import { hasWrk } from "./contention/load.ts";
import { layoutFor, REGIME_TITLES, REGIMES } from "./contention/regimes.ts";
import { conclusion, formatTable } from "./contention/report.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "10" }, json: { type: "string" }, generator: { type: "string" } },
});
const cores = allowedCores();
const layout = layoutFor(cores);
const generator = (values.generator as "wrk" | "built-in" | undefined) ?? (hasWrk() ? "wrk" : "built-in");
const seconds = Number(values.seconds);
console.log(`bun-thread-manager: core contention, ${cores.length} cores, Bun ${Bun.version}, load: ${generator === "wrk" ? "wrk" : "built-in generator (install wrk for lighter load: apt-get install wrk)"}`);
console.log(`layout: load generator on core ${layout.load.join(",")}${layout.loadShares ? " (shared with the app: fewer than 4 cores)" : ""}; dedicated: HTTP on ${layout.http.join(",")}, compute and main on ${layout.compute.join(",") || "-"}`);

const results: RegimeResult[] = [];
for (const regime of REGIMES) {
  const skip = await available(regime, layout);
  if (skip) {
    console.log(`${REGIME_TITLES[regime]}: skipped, ${skip}`);
    continue;
  }
  const tty = process.stdout.isTTY === true;
  if (!tty) console.log(`  running ${regime} (${seconds} s)...`);
  results.push(await runRegime(regime, {
    cores, seconds, generator,
    progress: tty ? (r, done, total) => process.stdout.write(`\r  running ${r.padEnd(9)} ${"#".repeat(done).padEnd(total, ".")} ${done}/${total} s`) : undefined,
  }));
  if (tty) process.stdout.write("\r\x1b[2K");
}
console.log(formatTable(results));
console.log(conclusion(results));
if (values.json) await Bun.write(values.json, JSON.stringify({ cores: cores.length, bun: Bun.version, generator, results }, null, 2));
