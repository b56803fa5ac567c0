/**
 * `top`'s model and screen, pure: from two scrapes of a /metrics endpoint (the previous one for
 * rates and interval percentiles) to the text of one frame. Tested on fixtures; top.ts only fetches,
 * times and draws.
 */
import { parsePrometheusText, type PromSample } from "./prometheus-text.ts";

export interface Scrape {
  at: number; // ms
  samples: PromSample[];
}

export interface PoolRow {
  pool: string;
  kind: string;
  threads: string; // running/parked by role
  queue: number;
  pending: number;
  donePerSec: number;
  failedPerSec: number;
  /** run() calls refused at once per second (busy or closed). */
  shedPerSec: number;
  /** Share of the live threads' time spent running tasks or answering requests over the interval (0..1); undefined on a first frame. */
  busy: number | undefined;
  wait: [p50: number, p99: number]; // ms over the interval (since start on the first frame)
  run: [p50: number, p99: number];
  scaler: string;
}

export function scrape(text: string, at: number): Scrape {
  return { at, samples: parsePrometheusText(text) };
}

const pick = (s: Scrape | undefined, name: string, pool: string) => s?.samples.filter((x) => x.name === name && x.labels.pool === pool) ?? [];
const one = (s: Scrape | undefined, name: string, pool: string) => pick(s, name, pool).reduce((n, x) => n + x.value, 0);

/** histogram_quantile over the bucket deltas between two scrapes, linear within a bucket (ms). */
export function quantile(now: Scrape, before: Scrape | undefined, name: string, pool: string, q: number): number {
  const buckets = (s: Scrape | undefined) => new Map(pick(s, `${name}_bucket`, pool).map((x) => [x.labels.le!, x.value]));
  const cur = buckets(now);
  const earlier = buckets(before);
  // A count that went down: the process restarted; count from zero, as Prometheus' rate() does.
  const prev = [...cur].some(([le, v]) => v < (earlier.get(le) ?? 0)) ? new Map<string, number>() : earlier;
  const rows = [...cur].map(([le, v]) => ({ le: le === "+Inf" ? Infinity : Number(le), n: v - (prev.get(le) ?? 0) })).sort((a, b) => a.le - b.le);
  const total = rows.at(-1)?.n ?? 0;
  if (total <= 0) return 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const r of rows) {
    if (r.n >= rank) {
      if (r.le === Infinity) return lower * 1000;
      const inBucket = r.n - below;
      return (lower + (r.le - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1)) * 1000;
    }
    lower = r.le;
    below = r.n;
  }
  return lower * 1000;
}

export function poolRows(now: Scrape, before?: Scrape): PoolRow[] {
  const pools = [...new Set(now.samples.filter((x) => x.name === "btm_tasks_submitted_total").map((x) => x.labels.pool!))].sort();
  const seconds = before ? Math.max(0.001, (now.at - before.at) / 1000) : 0;
  const rate = (name: string, pool: string) => {
    if (!before) return 0;
    const cur = one(now, name, pool);
    const prev = one(before, name, pool);
    return (cur >= prev ? cur - prev : cur) / seconds; // went down: a restart, counted from zero
  };
  return pools.map((pool) => {
    const kind = pick(now, "btm_tasks_submitted_total", pool)[0]?.labels.kind ?? "?";
    const byRole = new Map<string, { running: number; parked: number }>();
    for (const x of pick(now, "btm_threads", pool)) {
      const r = byRole.get(x.labels.role!) ?? { running: 0, parked: 0 };
      r[x.labels.status as "running" | "parked"] += x.value;
      byRole.set(x.labels.role!, r);
    }
    const threads = [...byRole].filter(([, r]) => r.running + r.parked > 0).map(([role, r]) => `${ROLE_TAG[role] ?? role}${r.running}/${r.parked}`).join(" ") || "-";
    const ticks = pick(now, "btm_scaler_ticks_total", pool);
    const scaler = ticks.length ? `${one(now, "btm_scaler_rate", pool).toFixed(2)}/ms ema ${one(now, "btm_scaler_ema", pool).toFixed(2)} ${busiestCase(ticks, before, pool)}` : "fixed";
    const p = (name: string): [number, number] => [quantile(now, before, name, pool, 0.5), quantile(now, before, name, pool, 0.99)];
    const live = [...byRole.values()].reduce((n, r) => n + r.running + r.parked, 0);
    const busy = before && live > 0 ? Math.min(1, (rate("btm_task_run_seconds_sum", pool) + rate("btm_request_duration_seconds_sum", pool)) / live) : undefined;
    return {
      pool, kind, threads, queue: one(now, "btm_queue_depth", pool), pending: one(now, "btm_tasks_pending", pool),
      donePerSec: rate("btm_tasks_completed_total", pool), failedPerSec: rate("btm_tasks_failed_total", pool),
      shedPerSec: rate("btm_tasks_rejected_total", pool), busy,
      wait: p("btm_task_wait_seconds"), run: p("btm_task_run_seconds"), scaler,
    };
  });
}

/**
 * Where each pool's tasks come from, and what serving pools answer: "cpu <- main 12/s, web-0 1.2k/s"
 * (tasks per second per submitting thread) and "web: 2400 req/s, p50/p99 0.4/1.2 ms, 5xx 0/s".
 */
export function trafficLines(now: Scrape, before?: Scrape): string[] {
  const seconds = before ? Math.max(0.001, (now.at - before.at) / 1000) : 0;
  const perSec = (cur: number, prev: number | undefined) => (!before ? 0 : (prev === undefined || cur < prev ? cur : cur - prev) / seconds);
  const lines: string[] = [];
  const subs = now.samples.filter((x) => x.name === "btm_submitter_tasks_total");
  for (const pool of [...new Set(subs.map((x) => x.labels.pool!))].sort()) {
    const parts = subs.filter((x) => x.labels.pool === pool).map((x) => {
      const prev = before?.samples.find((y) => y.name === x.name && y.labels.pool === pool && y.labels.submitter === x.labels.submitter)?.value;
      return [x.labels.submitter!, perSec(x.value, prev)] as const;
    });
    const busy = parts.filter(([name, r]) => r > 0 || name === "main");
    lines.push(`  ${pool} <- ${busy.map(([name, r]) => `${name} ${rateText(r)}/s`).join(", ")}`);
  }
  for (const x of now.samples.filter((y) => y.name === "btm_requests_total")) {
    const pool = x.labels.pool!;
    const prev = before?.samples.find((y) => y.name === x.name && y.labels.pool === pool)?.value;
    const errors = one(now, "btm_request_errors_total", pool);
    const errorsBefore = before ? one(before, "btm_request_errors_total", pool) : undefined;
    const q = (p: number) => ms(quantile(now, before, "btm_request_duration_seconds", pool, p));
    lines.push(`  ${pool}: ${rateText(perSec(x.value, prev))} req/s, p50/p99 ${q(0.5)}/${q(0.99)} ms, 5xx ${rateText(perSec(errors, errorsBefore))}/s`);
  }
  return lines;
}

function rateText(r: number): string {
  return r >= 10_000 ? `${(r / 1000).toFixed(0)}k` : r >= 1000 ? `${(r / 1000).toFixed(1)}k` : r.toFixed(0);
}

/** The scaler's case over the interval: the one whose tick counter grew most (the largest on a first frame). */
function busiestCase(ticks: PromSample[], before: Scrape | undefined, pool: string): string {
  const prev = new Map(pick(before, "btm_scaler_ticks_total", pool).map((x) => [x.labels.case!, x.value]));
  let best = ticks[0]!;
  let bestGrowth = -1;
  for (const t of ticks) {
    const growth = t.value - (prev.get(t.labels.case!) ?? 0);
    if (growth > bestGrowth) [best, bestGrowth] = [t, growth];
  }
  return best.labels.case ?? "?";
}

/** Whether the scrape came from a bun-thread-manager /metrics endpoint (has at least one pool or thread). */
export function hasPools(now: Scrape): boolean {
  return now.samples.some((s) => s.name === "btm_tasks_submitted_total" || s.name === "btm_thread_info");
}

/** Threads by the cores they may run on: "0" -> ["cpu-s0 (static, running)", ...]. */
export function threadsByCore(now: Scrape): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const x of now.samples.filter((s) => s.name === "btm_thread_info")) {
    const list = out.get(x.labels.cores!) ?? [];
    list.push(`${x.labels.thread} (${x.labels.role}${x.labels.status === "parked" ? ", parked" : ""})`);
    out.set(x.labels.cores!, list);
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true })));
}

/** As in thread names (cpu-s0, cpu-d1, cpu-x2). */
const ROLE_TAG: Record<string, string> = { static: "s", dynamic: "d", standalone: "x" };

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(3));

/** `items` joined with ", " into lines of at most `width` (Infinity: one line), the first after `head`, the rest indented. */
function wrap(head: string, items: string[], width: number): string[] {
  const lines: string[] = [];
  let line = head;
  for (const [i, item] of items.entries()) {
    const piece = (i === 0 ? "" : ", ") + item;
    if (i > 0 && line.length + piece.length > width) {
      lines.push(line + ",");
      line = " ".repeat(head.length) + item;
    } else line += piece;
  }
  return [...lines, line];
}

/** One screen; `width` wraps the thread lists (Infinity: no wrapping, as for a pipe). */
export function renderFrame(url: string, now: Scrape, before: Scrape | undefined, width = Infinity, live = true): string {
  const rows = poolRows(now, before);
  const head = ["pool", "kind", "threads r/p", "busy", "queue", "pending", "done/s", "fail/s", "shed/s", "wait p50/p99 ms", "run p50/p99 ms", "scaler"];
  const cells = rows.map((r) => [
    r.pool, r.kind, r.threads, r.busy === undefined ? "-" : `${(r.busy * 100).toFixed(0)}%`, String(r.queue), String(r.pending),
    r.donePerSec.toFixed(0), r.failedPerSec.toFixed(0), r.shedPerSec.toFixed(0),
    `${ms(r.wait[0])}/${ms(r.wait[1])}`, `${ms(r.run[0])}/${ms(r.run[1])}`, r.scaler,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  // A narrow terminal: leave out whole columns, least needed first, rather than wrap rows mid-cell.
  const shown = head.map((_, i) => i);
  for (const drop of ["wait p50/p99 ms", "kind", "scaler", "fail/s", "shed/s"]) {
    if (shown.reduce((n, i) => n + widths[i]! + 2, -2) <= width) break;
    shown.splice(shown.indexOf(head.indexOf(drop)), 1);
  }
  const line = (c: string[]) => shown.map((i) => c[i]!.padEnd(widths[i]!)).join("  ").trimEnd();
  const cores = [...threadsByCore(now)].flatMap(([c, names]) => wrap(`  cores ${c.padEnd(6)} `, names, width));
  const traffic = trafficLines(now, before);
  return [
    `bun-thread-manager top  ${url}  ${new Date(now.at).toISOString().slice(11, 19)}  ${before ? `rates over ${((now.at - before.at) / 1000).toFixed(1)} s` : "first scrape: percentiles since start, rates next frame"}${live ? "  (q: quit)" : ""}`,
    "",
    line(head),
    ...cells.map(line),
    ...(rows.length === 0 ? ["(no pools: is this a bun-thread-manager /metrics endpoint?)"] : []),
    ...(traffic.length ? ["", "where tasks come from (tasks/s per submitting thread) and what servers answer", ...traffic] : []),
    "",
    "threads by core; threads r/p: running/parked right now by role (s static, d dynamic, x standalone); busy: share of the threads' time in tasks and requests over the interval",
    ...(cores.length ? cores : ["  (no thread list: serve tm.prometheus() for it)"]),
  ].join("\n");
}
