/**
 * For apps that already have a prom-client registry: registers the pools' metrics there, read from
 * `tm.metrics()` at every scrape. prom-client is the app's dependency, not this library's: pass its
 * module in.
 *
 * @example
 * import client from "prom-client";
 * registerPoolMetrics(client, tm);            // the default registry; or { registers: [myRegistry] }
 */
import { prometheusFamilies, type Family } from "./main/prometheus.ts";
import type { ThreadManager } from "./main/thread-manager.ts";

/** The part of prom-client this uses: its default registry (typed loosely, so any prom-client version's types fit). */
export interface PromClientLike {
  register: RegistryLike;
}

interface RegistryLike {
  registerMetric(metric: any): void;
}

/**
 * Registers one metric per family (the same names, types, help and labels as `tm.prometheus()`,
 * histograms included) through prom-client's `registerMetric`: each is an object with prom-client's
 * metric `get()` shape, since prom-client's own Counter and Histogram cannot be set to totals that
 * the pool threads counted. Returns the names registered.
 */
export function registerPoolMetrics(client: PromClientLike, manager: ThreadManager, options: { registers?: RegistryLike[] } = {}): string[] {
  // One snapshot serves every family of a scrape (the registry reads them one after another): a
  // family that already read the current snapshot takes a new one, so no family ever reads older data.
  let snapshot: { families: Map<string, Family>; readBy: Set<string> } | undefined;
  const current = (name: string) => {
    if (!snapshot || snapshot.readBy.has(name)) {
      snapshot = { families: new Map(prometheusFamilies(manager.metrics(), manager.threads()).map((f) => [f.name, f])), readBy: new Set() };
    }
    snapshot.readBy.add(name);
    return snapshot.families.get(name);
  };
  // The families come from a snapshot now; scaling pools add scaler families.
  const families = prometheusFamilies(manager.metrics(), manager.threads());
  const registers = options.registers ?? [client.register];
  for (const f of families) {
    const metric = {
      name: f.name, help: f.help, type: f.type, aggregator: "sum",
      get: () => ({
        name: f.name, help: f.help, type: f.type, aggregator: "sum",
        values: (current(f.name)?.samples ?? []).map((s) => ({ value: s.value, labels: s.labels, metricName: f.name + (s.suffix ?? "") })),
      }),
      reset() {}, // the totals belong to the pools
    };
    for (const r of registers) r.registerMetric(metric);
  }
  return families.map((f) => f.name);
}
