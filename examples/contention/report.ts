/** Tables and the one-line conclusion of the contention experiments. */
import type { RegimeResult } from "./experiment.ts";
import { REGIME_TITLES } from "./regimes.ts";

const ms = (us: number) => (us / 1000).toFixed(2);

export function formatTable(rows: RegimeResult[]): string {
  const head = "| regime | HTTP req/s | p50 ms | p99 ms | p99.9 ms | errors | compute jobs/s |";
  const line = "|---|---:|---:|---:|---:|---:|---:|";
  const body = rows.map((r) => `| ${REGIME_TITLES[r.regime]} | ${Math.round(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.p999)} | ${r.errors} | ${r.jobsPerSec.toFixed(0)} |`);
  return [head, line, ...body].join("\n");
}

/** HTTP p99 of dedicated and IDLE against shared, rps and jobs/s beside it. */
export function conclusion(rows: RegimeResult[]): string {
  const by = (regime: string) => rows.find((r) => r.regime === regime);
  const shared = by("shared");
  if (!shared) return "";
  const parts: string[] = [];
  for (const name of ["dedicated", "idle"] as const) {
    const r = by(name);
    if (!r) continue;
    const p99 = r.p99 <= shared.p99 ? `${(shared.p99 / r.p99).toFixed(1)}x lower` : `${(r.p99 / shared.p99).toFixed(1)}x higher`;
    parts.push(`${name === "idle" ? "compute at IDLE" : "dedicated cores"}: HTTP p99 ${p99} (${ms(r.p99)} vs ${ms(shared.p99)} ms), req/s ${(r.rps / shared.rps).toFixed(2)}x, compute jobs/s ${(r.jobsPerSec / shared.jobsPerSec).toFixed(2)}x`);
  }
  return `Against the shared regime: ${parts.join("; ")}.`;
}
