/**
 * For apps that already have a prom-client registry: registers the pools' metrics there, read from
 * `tm.metrics()` at every scrape (prom-client's `collect`). prom-client is the app's dependency, not
 * this library's: pass its module in.
 *
 * @example
 * import client from "prom-client";
 * registerPoolMetrics(client, tm);            // the default registry; or { registers: [myRegistry] }
 */
import { prometheusFamilies, type Family } from "./main/prometheus.ts";
import type { ThreadManager } from "./main/thread-manager.ts";

/** The part of prom-client this uses: its Gauge class (typed loosely, so any prom-client version's types fit). */
export interface PromClientLike {
    Gauge: new (config: any) => unknown;
}

/** What prom-client's `collect` runs on: the gauge itself. */
interface GaugeLike {
  reset(): void;
  set(labels: Record<string, string>, value: number): void;
}

/**
 * Registers one prom-client Gauge per metric family (the same names, help and labels as
 * `tm.prometheus()`; counters are exposed as gauges holding the running totals, since prom-client
 * counters cannot be set). Returns the names registered.
 */
export function registerPoolMetrics(client: PromClientLike, manager: ThreadManager, options: { registers?: unknown[] } = {}): string[] {
  // One snapshot serves every family of a scrape (prom-client collects them one after another): a
  // family that already read the current snapshot takes a new one, so no family ever reads older data.
  let snapshot: { families: Map<string, Family>; readBy: Set<string> } | undefined;
  const current = (name: string) => {
    if (!snapshot || snapshot.readBy.has(name)) {
      snapshot = { families: new Map(prometheusFamilies(manager.metrics()).map((f) => [f.name, f])), readBy: new Set() };
    }
    snapshot.readBy.add(name);
    return snapshot.families.get(name);
  };
  // The families and label names come from a snapshot now; scaling pools add scaler families.
  const families = prometheusFamilies(manager.metrics());
  for (const f of families) {
    const labelNames = [...new Set(f.samples.flatMap((s) => Object.keys(s.labels)))];
    new client.Gauge({
      name: f.name, help: f.help, labelNames, registers: options.registers,
      collect(this: GaugeLike) {
        this.reset();
        for (const s of current(f.name)?.samples ?? []) this.set(s.labels, s.value);
      },
    });
  }
  return families.map((f) => f.name);
}
