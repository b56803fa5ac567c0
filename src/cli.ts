#!/usr/bin/env bun
/**
 * bunx bun-thread-manager check <file>   validates a config; prints every error with its key path
 * bunx bun-thread-manager plan <file>    prints the pools, their threads and cores, and a per-core map
 * bunx bun-thread-manager types <file>   declarations for "pool:NAME" imports (bun-thread-manager/plugin)
 * bunx bun-thread-manager top <url>       live view of a running process from its /metrics endpoint
 * bunx bun-thread-manager --help | --version
 * Nothing is started, even with the preload in bunfig.toml (the preload stands aside for the CLI).
 * Exit codes: 0 ok, 1 the config has errors, 2 usage.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { poolTypes } from "./codegen/pool-types.ts";
import { exportNames } from "./common/module-exports.ts";
import { coresForThread, type ResolvedConfig } from "./config/types.ts";
import { checkConfig } from "./config/validate.ts";
import { ConfigError } from "./errors.ts";
import { formatCpuList } from "./platform/cpus.ts";
import { roleOfSeat, roleTag } from "./common/thread-roles.ts";
import { threadName } from "./platform/placement.ts";
import { parseConfigToml } from "./main/thread-manager.ts";
import { top } from "./top/top.ts";

const USAGE = `usage: bun-thread-manager <command> <config.toml | metrics url>

commands:
  check <file>   validate a config; print every error with its key path (exit 1 if any)
  plan <file>    print the pools, their threads, cores, policy and priority, and a per-core map
  types <file>   declarations for the runtime plugin's "pool:NAME" imports (stdout; --out FILE writes it)
  top <url>      live view of a running process from its /metrics endpoint (q quits; --once: one frame)
  --help         this text
  --version      the package version

check and plan start nothing: no pool, no thread.`;

function version(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

function load(file: string): { resolved?: ResolvedConfig; errors: ConfigError[]; warnings?: string[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return { errors: [new ConfigError("(file)", `cannot read ${file}: ${(e as Error).message}`)] };
  }
  try {
    return checkConfig(parseConfigToml(text), dirname(resolve(file)));
  } catch (e) {
    if (e instanceof ConfigError) return { errors: [e] };
    throw e;
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()).join("\n");
}

function plan(r: ResolvedConfig): string {
  const rows = [["pool", "kind", "thread", "cores", "policy", "nice", "priority"]];
  const perCore = new Map<number, string[]>();
  const note = (cores: number[], who: string) => cores.forEach((c) => perCore.set(c, [...(perCore.get(c) ?? []), who]));
  const sched = (p: ResolvedConfig["pools"][number]["placement"]) => [p.policy, p.nice === null ? "-" : String(p.nice), p.priority ? String(p.priority) : "-"];
  for (const p of r.pools) {
    for (let i = 0; i < p.threads; i++) {
      const cores = coresForThread(p.placement, i);
      const name = threadName(p.name, i, roleTag(p.scaling, i));
      const seatRole = roleOfSeat(p.scaling, i);
      const role = p.kind === "native" ? "native (up to)" : p.scaling ? `${p.kind} ${seatRole}${seatRole === "standalone" ? " (on demand)" : ""}` : p.kind;
      const serves = p.serve ? ` (serves HTTP on ${p.serve.port === undefined ? "the module's port" : p.serve.port === 0 ? "a free port" : `port ${p.serve.port}`})` : "";
      rows.push([p.name, role + serves, name, formatCpuList(cores), ...sched(p.placement)]);
      note(cores, name);
    }
  }
  if (r.pools.some((p) => p.scaling)) {
    const home = r.runtime ?? r.main;
    const cores = home?.cores ?? r.allowed;
    rows.push(["(manager)", "manager", "pool-manager", formatCpuList(cores), ...(home ? sched(home) : ["OTHER", "-", "-"])]);
    note(cores, "pool-manager");
  }
  if (r.main) {
    rows.push(["(main)", "main", "main", formatCpuList(r.main.cores), "-", "-", "-"]);
    note(r.main.cores, "main");
  }
  if (r.runtime) {
    rows.push(["(runtime)", "runtime", "Bun helpers", formatCpuList(r.runtime.cores), ...sched(r.runtime)]);
    note(r.runtime.cores, "bun-helpers");
  }
  const coreRows = [["core", "threads"]];
  for (const c of r.allowed) coreRows.push([String(c), (perCore.get(c) ?? []).join(", ") || "(free)"]);
  const mapping = Object.entries(r.mapping).map(([a, t]) => `  ${a} -> ${t}`);
  return [
    table(rows), "", `allowed CPUs: ${formatCpuList(r.allowed)}`,
    `CPU quota: ${r.cpuQuota ? `${r.cpuQuota.cpus} CPU${r.cpuQuota.cpus === 1 ? "" : "s"} of time (${r.cpuQuota.source}); default pool sizes use ${r.cpuQuota.cores}` : "none (no cgroup CPU limit)"}`,
    "", table(coreRows),
    ...(mapping.length ? ["", "mapping:", ...mapping] : []),
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "top") return top(argv.slice(1));
  // --out FILE / --out=FILE (types), anywhere after the command
  let outFile: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--out" || a.startsWith("--out=")) {
      outFile = a === "--out" ? argv[++i] : a.slice(6);
      if (!outFile) {
        console.error("error: --out needs a file name");
        return 2;
      }
    } else rest.push(a);
  }
  const [command, file] = rest;
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (command === "--version" || command === "-v") {
    console.log(version());
    return 0;
  }
  if ((command !== "check" && command !== "plan" && command !== "types") || !file) {
    console.error(command === undefined ? "error: no command given" : !["check", "plan", "types"].includes(command) ? `error: unknown command "${command}"` : `error: ${command} needs a config file (threads.toml)`);
    console.error(USAGE);
    return 2;
  }
  const { resolved, errors, warnings = [] } = load(file);
  if (errors.length > 0) {
    for (const e of errors) console.error(`error: ${e.message}`);
    console.error(`${file}: ${errors.length} error${errors.length === 1 ? "" : "s"}`);
    return 1;
  }
  for (const w of warnings) console.error(`warning: ${w}`);
  if (command === "types") {
    let text: string;
    try {
      text = poolTypes(resolved!, outFile ? dirname(resolve(outFile)) : process.cwd(), file);
    } catch (e) {
      console.error(`error: ${(e as Error).message}`);
      return 1;
    }
    if (!outFile) process.stdout.write(text);
    else {
      try {
        mkdirSync(dirname(resolve(outFile)), { recursive: true });
        writeFileSync(outFile, text);
      } catch (e) {
        console.error(`error: cannot write ${outFile}: ${(e as Error).message}`);
        return 1;
      }
      console.error(`${outFile}: declarations for ${resolved!.pools.filter((p) => p.module !== "").length} pools (make sure tsconfig's include covers it)`);
    }
    return 0;
  }
  if (command === "check") {
    const unreadable = unreadableModules(resolved!);
    if (unreadable.length > 0) {
      for (const why of unreadable) console.error(`error: ${why}`);
      console.error(`${file}: ${unreadable.length} error${unreadable.length === 1 ? "" : "s"}`);
      return 1;
    }
    const threads = resolved!.pools.reduce((n, p) => n + p.threads, 0);
    const warned = warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? "" : "s"}` : "";
    console.log(`${file}: ok (${resolved!.pools.length} pools, up to ${threads} threads${warned})`);
  } else {
    console.log(plan(resolved!));
  }
  return 0;
}

/** Handler and serve modules that do not parse (read by Bun's transpiler, not run): one message each. */
function unreadableModules(resolved: ResolvedConfig): string[] {
  const out: string[] = [];
  for (const p of resolved.pools) {
    for (const url of [p.module, p.serve?.module]) {
      if (!url || !url.startsWith("file:")) continue;
      try {
        exportNames(fileURLToPath(url));
      } catch (e) {
        out.push(`pool "${p.name}": ${(e as Error).message}`);
      }
    }
  }
  return out;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
