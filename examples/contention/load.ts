/**
 * HTTP load for the contention experiments: wrk when it is installed (Debian: apt-get install wrk;
 * macOS: brew install wrk), else the built-in generator (load-generator.ts). Pinned with taskset to
 * the layout's load cores where taskset exists. Latencies in microseconds.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LoadResult {
  generator: "wrk" | "built-in";
  requests: number;
  rps: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const WRK_SCRIPT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('LOAD {"requests":%d,"duration_us":%d,"errors":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`;

export const hasWrk = () => Bun.which("wrk") !== null;
const hasTaskset = () => Bun.which("taskset") !== null;

/** Prefix that pins a command to `cores` (nothing where taskset is missing). */
export function pinned(cores: number[]): string[] {
  return cores.length > 0 && hasTaskset() && process.platform === "linux" ? ["taskset", "-c", cores.join(",")] : [];
}

/** `postBytes`: wrk sends POST requests with a body of that many bytes (wrk only). */
export async function runLoad(url: string, seconds: number, cores: number[], connections = 16, force?: "wrk" | "built-in", postBytes?: number): Promise<LoadResult> {
  const useWrk = force ? force === "wrk" : hasWrk();
  if (postBytes !== undefined && !useWrk) throw new Error("runLoad: POST bodies need wrk (apt-get install wrk)");
  let cmd: string[];
  if (useWrk) {
    const script = join(tmpdir(), `btm-wrk-${process.pid}.lua`);
    const post = postBytes === undefined ? "" : `wrk.method = "POST"\nwrk.body = string.rep("x", ${postBytes})\n`;
    await Bun.write(script, post + WRK_SCRIPT);
    cmd = [...pinned(cores), "wrk", "-t1", `-c${connections}`, `-d${seconds}s`, "-s", script, url];
  } else {
    cmd = [...pinned(cores), process.execPath, new URL("./load-generator.ts", import.meta.url).pathname, url, String(connections), String(seconds)];
  }
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const line = out.split("\n").find((l) => l.startsWith("LOAD "));
  if (code !== 0 || !line) throw new Error(`load generator failed (${cmd.join(" ")}), exit ${code}: ${err || out}`);
  const r = JSON.parse(line.slice(5));
  return { generator: useWrk ? "wrk" : "built-in", requests: r.requests, rps: r.requests / (r.duration_us / 1e6), errors: r.errors, p50: r.p50, p90: r.p90, p99: r.p99, p999: r.p999, max: r.max };
}
