/**
 * How the benefit of placement scales with cores (the seed's core_contention_sweep, redone for Bun):
 * the basics experiment (examples/core_contention_basics.ts) on the first 1, 2, ... n cores this
 * process may use, regimes shared, dedicated (from 2 cores) and IDLE. Writes the rows as JSON and an
 * SVG chart (vega-lite rendered headless) of HTTP p99, HTTP req/s and compute jobs/s per core count.
 *
 * bun examples/core_contention_sweep.ts [--seconds 10] [--cores 1,2,4] [--out bench/contention-sweep]
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { allowedCores } from "../src/platform/cpus.ts";
import { available, runRegime, type RegimeResult } from "./contention/experiment.ts";
import { hasWrk } from "./contention/load.ts";
import { layoutFor, type Regime } from "./contention/regimes.ts";
import { formatTable } from "./contention/report.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    cores: { type: "string" },
    out: { type: "string", default: "contention-sweep" },
    generator: { type: "string" },
  },
});
const allowed = allowedCores();
const counts = values.cores ? values.cores.split(",").map(Number) : allowed.map((_, i) => i + 1);
const bad = counts.find((k) => !Number.isInteger(k) || k < 1 || k > allowed.length);
if (bad !== undefined) throw new Error(`--cores: ${bad} is not between 1 and the ${allowed.length} cores this process may use`);
const generator = (values.generator as "wrk" | "built-in" | undefined) ?? (hasWrk() ? "wrk" : "built-in");
const regimes: Regime[] = ["shared", "dedicated", "idle"];
console.log(`bun-thread-manager: contention sweep over ${counts.join(", ")} cores, ${values.seconds} s per regime, load: ${generator}`);

const rows: RegimeResult[] = [];
for (const k of counts) {
  const cores = allowed.slice(0, k);
  const layout = layoutFor(cores);
  for (const regime of regimes) {
    const skip = await available(regime, layout);
    if (skip) {
      console.log(`${k} cores, ${regime}: skipped, ${skip}`);
      continue;
    }
    process.stdout.write(`${k} cores, ${regime}... `);
    const r = await runRegime(regime, { cores, seconds: Number(values.seconds), generator });
    rows.push(r);
    console.log(`p99 ${(r.p99 / 1000).toFixed(2)} ms, ${Math.round(r.rps)} req/s, ${r.jobsPerSec.toFixed(0)} jobs/s`);
  }
}
for (const k of counts) {
  console.log(`\n${k} cores:`);
  console.log(formatTable(rows.filter((r) => r.cores === k)));
}

const json = `${values.out}.json`;
writeFileSync(json, JSON.stringify({ bun: Bun.version, generator, allowed: allowed.length, rows }, null, 2));
const svg = `${values.out}.svg`;
const chart = await sweepChart(rows).catch((e) => {
  console.log(`\nno chart: ${(e as Error).message} (the chart needs vega and vega-lite: bun add -d vega vega-lite)`);
  return undefined;
});
if (chart) writeFileSync(svg, chart);
console.log(`\nwrote ${json}${chart ? ` and ${svg}` : ""}`);

/** Three panels over core count, one line per regime (vega-lite, rendered to SVG headless). */
async function sweepChart(data: RegimeResult[]): Promise<string> {
  const vega = await import("vega");
  const { compile } = await import("vega-lite");
  const values = data.flatMap((r) => [
    { cores: r.cores, regime: r.regime, panel: "HTTP p99 (ms)", v: r.p99 / 1000 },
    { cores: r.cores, regime: r.regime, panel: "HTTP req/s", v: r.rps },
    { cores: r.cores, regime: r.regime, panel: "compute jobs/s", v: r.jobsPerSec },
  ]);
  const panel = (name: string) => ({
    title: name, width: 260, height: 180,
    transform: [{ filter: `datum.panel === '${name}'` }],
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "cores", type: "ordinal", title: "cores" },
      y: { field: "v", type: "quantitative", title: name },
      color: { field: "regime", type: "nominal", title: "regime" },
    },
  });
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `bun-thread-manager core contention sweep (Bun ${Bun.version}, ${generator})`,
    data: { values },
    hconcat: [panel("HTTP p99 (ms)"), panel("HTTP req/s"), panel("compute jobs/s")],
  };
  const view = new vega.View(vega.parse(compile(spec as never).spec), { renderer: "none" });
  return view.toSVG();
}
