/** Turns mitata's per-iteration times into items per second for benchmarks that move N items per iteration. */
import type { run } from "mitata";

type Results = Awaited<ReturnType<typeof run>>;

const itemsPerIteration = new Map<string, number>();

/** Registers a benchmark name as moving `items` items per iteration; returns the name. */
export function moves(name: string, items: number): string {
  itemsPerIteration.set(name, items);
  return name;
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

/** Prints a markdown table: name, avg time per iteration, items/s from the average and from p50. */
export function printThroughput(results: Results, title: string): void {
  const rows: string[] = [];
  for (const trial of results.benchmarks) {
    for (const r of trial.runs) {
      const items = itemsPerIteration.get(r.name);
      if (!items || !r.stats) continue;
      const perItemNs = r.stats.avg / items;
      rows.push(
        `| ${r.name} | ${perItemNs.toFixed(1)} ns | ${formatRate((items * 1e9) / r.stats.avg)} | ${formatRate((items * 1e9) / r.stats.p50)} |`,
      );
    }
  }
  console.log(`\n### ${title}\n\n| benchmark | per item (avg) | items/s (avg) | items/s (p50) |\n|---|---|---|---|\n${rows.join("\n")}`);
}
