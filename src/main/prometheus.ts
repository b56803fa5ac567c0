/**
 * `tm.prometheus()`: every compute and async pool's metrics() in the Prometheus text exposition
 * format (version 0.0.4): counters (`_total`), gauges, labels `pool`, `kind` and, per thread kind,
 * `role`, and the task wait/run histograms (`_bucket` with `le`, `_sum`, `_count`, in seconds,
 * cumulative since the pool started). Built from the same snapshot as metrics(), so the two agree.
 */
import type { PoolMetrics } from "./pool-metrics.ts";
import type { LatencyHistogram } from "./task-latency.ts";
import type { ThreadInfo } from "./thread-list.ts";
import { formatCpuList } from "../platform/cpus.ts";
import type { CpuQuota } from "../platform/cgroup.ts";

/** One line: `suffix` is added to the family's name (a histogram's `_bucket`, `_sum`, `_count`). */
export type Sample = { labels: Record<string, string>; value: number; suffix?: string };
export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
  samples: Sample[];
}

const COUNTERS: Array<[keyof PoolMetrics, string, string]> = [
  ["submitted", "btm_tasks_submitted_total", "Tasks accepted by run() and parallelFor()."],
  ["completed", "btm_tasks_completed_total", "Tasks resolved with a value."],
  ["failed", "btm_tasks_failed_total", "Tasks rejected because the handler threw or its result could not be sent."],
  ["cancelled", "btm_tasks_cancelled_total", "Tasks rejected by an abort, by close({ drain: false }) or at a close's deadline."],
  ["crashed", "btm_tasks_crashed_total", "Tasks rejected because their thread died."],
  ["dropped", "btm_tasks_dropped_total", "Tasks whose calling thread exited before they settled."],
  ["stolen", "btm_halves_stolen_total", "Join and parallelFor halves run by another thread than the one that split them."],
  ["replaced", "btm_threads_replaced_total", "Threads replaced because an aborted or timed-out task did not return."],
  ["deaths", "btm_thread_deaths_total", "Pool threads that exited unexpectedly (crash, process.exit, out of memory)."],
];
const GAUGES: Array<[keyof PoolMetrics, string, string]> = [
  ["pending", "btm_tasks_pending", "Tasks submitted and not yet completed."],
  ["queueDepth", "btm_queue_depth", "Task records waiting in the injector and the deques."],
];

/** The text exposition of `pools` (name -> metrics()) and, when given, `threads` (tm.threads()). */
export function prometheusText(pools: Record<string, PoolMetrics>, threads?: ThreadInfo[], quota?: CpuQuota): string {
  const out: string[] = [];
  const families = prometheusFamilies(pools, threads);
  if (quota) families.push({ name: "btm_cpu_quota_cpus", type: "gauge", help: "The process's cgroup CPU quota in CPUs (a container's CPU limit).", samples: [{ labels: {}, value: quota.cpus }] });
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(`${f.name}${s.suffix ?? ""}{${labelText(s.labels)}} ${formatValue(s.value)}`);
  }
  return out.join("\n") + "\n";
}

/** The metric families of `pools` (and `threads`), each with its samples (families without samples left out). */
export function prometheusFamilies(pools: Record<string, PoolMetrics>, threadList?: ThreadInfo[]): Family[] {
  const families: Family[] = [];
  const family = (name: string, type: Family["type"], help: string) => {
    const f: Family = { name, type, help, samples: [] };
    families.push(f);
    return f;
  };
  for (const [key, name, help] of COUNTERS) {
    const f = family(name, "counter", help);
    for (const m of Object.values(pools)) f.samples.push({ labels: { pool: m.pool, kind: m.kind }, value: m[key] as number });
  }
  for (const [key, name, help] of GAUGES) {
    const f = family(name, "gauge", help);
    for (const m of Object.values(pools)) f.samples.push({ labels: { pool: m.pool, kind: m.kind }, value: m[key] as number });
  }
  const wait = family("btm_task_wait_seconds", "histogram", "From a task's publication in shared memory to a thread starting it.");
  const run = family("btm_task_run_seconds", "histogram", "From a thread starting a task to it posting the result or error.");
  const threads = family("btm_threads", "gauge", "Live pool threads by role (static, dynamic, standalone) and status (running, parked).");
  const arena = family("btm_arena_bytes", "gauge", "Bytes of the pool's payload arena.");
  const scaler = family("btm_scaler_rate", "gauge", "Tasks per ms in the pool manager's last tick.");
  const ema = family("btm_scaler_ema", "gauge", "The scaler's EMA of the rate after its last tick.");
  const spawned = family("btm_standalone_spawned_total", "counter", "Standalone threads started by the pool manager's request.");
  const ticks = family("btm_scaler_ticks_total", "counter", "Pool manager ticks by the rule's case (first, rising, falling, steady, hog, starved).");
  for (const m of Object.values(pools)) {
    const base = { pool: m.pool, kind: m.kind };
    for (const [role, by] of Object.entries(m.threadsByRole)) {
      for (const [status, n] of Object.entries(by)) threads.samples.push({ labels: { ...base, role, status }, value: n });
    }
    arena.samples.push({ labels: base, value: m.arena.bytes });
    histogramSamples(wait, base, m.histograms.wait);
    histogramSamples(run, base, m.histograms.run);
    if (m.scaler) {
      scaler.samples.push({ labels: base, value: m.scaler.last?.rate ?? 0 });
      ema.samples.push({ labels: base, value: m.scaler.last?.currEma ?? 0 });
      spawned.samples.push({ labels: base, value: m.scaler.spawned });
      for (const [c, n] of Object.entries(m.scaler.ticksByCase)) ticks.samples.push({ labels: { ...base, case: c }, value: n });
    }
  }
  const rejected = family("btm_tasks_rejected_total", "counter", "run() calls refused at once (shed load), by reason: busy (max_queue or max_queue_per_thread), closed.");
  for (const m of Object.values(pools)) {
    for (const [reason, value] of Object.entries(m.rejected)) rejected.samples.push({ labels: { pool: m.pool, kind: m.kind, reason }, value });
  }
  const bySubmitter = family("btm_submitter_tasks_total", "counter", "Tasks published to the pool per submitting thread (label submitter: main, or the thread's name), for the threads that hold a lane now.");
  const requests = family("btm_requests_total", "counter", "Requests answered by a serving pool's servers (functions in fetch and routes).");
  const requestErrors = family("btm_request_errors_total", "counter", "Requests a serving pool answered with a 5xx, or whose handler threw.");
  const requestSeconds = family("btm_request_duration_seconds", "histogram", "From a serving thread's handler getting a request to its response.");
  for (const m of Object.values(pools)) {
    const base = { pool: m.pool, kind: m.kind };
    const sums = new Map<string, number>();
    for (const s of m.submitters) sums.set(s.submitter, (sums.get(s.submitter) ?? 0) + s.submitted); // exited lanes share one label
    for (const [submitter, value] of sums) bySubmitter.samples.push({ labels: { ...base, submitter }, value });
    if (m.requests) {
      requests.samples.push({ labels: base, value: m.requests.count });
      requestErrors.samples.push({ labels: base, value: m.requests.errors });
      histogramSamples(requestSeconds, base, m.requests.histogram);
    }
  }
  const info = family("btm_thread_info", "gauge", "Every managed thread (value 1): its pool, role, kernel name, cores, policy and run state.");
  for (const t of threadList ?? []) {
    info.samples.push({ labels: { pool: t.pool, role: t.role, thread: t.name, tid: String(t.tid), cores: formatCpuList(t.cores), policy: t.policy, status: t.status }, value: 1 });
  }
  return families.filter((f) => f.samples.length > 0);
}

function histogramSamples(f: Family, labels: Record<string, string>, h: LatencyHistogram): void {
  for (const [le, n] of h.buckets) f.samples.push({ labels: { ...labels, le: String(le) }, value: n, suffix: "_bucket" });
  f.samples.push({ labels: { ...labels, le: "+Inf" }, value: h.count, suffix: "_bucket" });
  f.samples.push({ labels, value: h.sumSeconds, suffix: "_sum" });
  f.samples.push({ labels, value: h.count, suffix: "_count" });
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`).join(",");
}

function formatValue(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN";
}
