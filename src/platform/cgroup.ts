/**
 * The process's CPU quota under cgroups (a container's CPU limit, Kubernetes' `limits.cpu`):
 * cgroup v2 `cpu.max` ("200000 100000": 2 CPUs; "max 100000": none), cgroup v1
 * `cpu.cfs_quota_us` / `cpu.cfs_period_us` (quota -1: none). The cgroup comes from
 * /proc/self/cgroup; the limit in force is the smallest along its path up to the root of the
 * mount (a parent's limit binds its children). sched_getaffinity says which cores a process may
 * use; the quota says how much of them: a 2-CPU quota on a 64-core node gives 64 allowed cores and
 * 2 CPUs of time, so pools sized by cores alone are throttled.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface CpuQuota {
  /** The quota in CPUs, rounded up (what default pool sizes use). */
  cores: number;
  /** The exact quota in CPUs (e.g. 1.5). */
  cpus: number;
  /** Where it was read, e.g. "cgroup v2 /sys/fs/cgroup/app/cpu.max: 150000 100000". */
  source: string;
}

const read = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
};

/** The quota in force for this process, or undefined when there is none (or no cgroup fs). */
export function cpuQuota(root = "/sys/fs/cgroup", procCgroup = read("/proc/self/cgroup") ?? ""): CpuQuota | undefined {
  let best: CpuQuota | undefined;
  const consider = (q: CpuQuota | undefined) => (best = smaller(best, q));
  for (const line of procCgroup.split("\n")) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    if (controllers === "") {
      // cgroup v2: the unified hierarchy, at the root or (hybrid systems) under unified/.
      for (const mount of [root, join(root, "unified")]) if (existsSync(join(mount, "cgroup.controllers"))) consider(walk(mount, path, v2Limit));
    } else if (controllers!.split(",").includes("cpu")) {
      for (const dir of [controllers!, "cpu", "cpu,cpuacct", "cpuacct,cpu"]) {
        const mount = join(root, dir);
        if (existsSync(join(mount, "cpu.cfs_quota_us"))) {
          consider(walk(mount, path, v1Limit));
          break;
        }
      }
    }
  }
  return best;
}

/** The smallest limit from the cgroup's directory up to the mount's root. */
function walk(mount: string, path: string, limit: (dir: string) => CpuQuota | undefined): CpuQuota | undefined {
  let best: CpuQuota | undefined;
  const parts = path.split("/").filter(Boolean);
  for (let n = parts.length; n >= 0; n--) best = smaller(best, limit(join(mount, ...parts.slice(0, n))));
  return best;
}

/** The tighter of two limits (either may be missing). */
function smaller(a: CpuQuota | undefined, b: CpuQuota | undefined): CpuQuota | undefined {
  return b && (!a || b.cpus < a.cpus) ? b : a;
}

function v2Limit(dir: string): CpuQuota | undefined {
  const text = read(join(dir, "cpu.max"));
  const [quota, period] = (text ?? "").split(/\s+/);
  if (!quota || quota === "max") return undefined;
  return quotaOf(Number(quota), Number(period ?? 100000), `cgroup v2 ${join(dir, "cpu.max")}: ${text}`);
}

function v1Limit(dir: string): CpuQuota | undefined {
  const quota = Number(read(join(dir, "cpu.cfs_quota_us")));
  const period = Number(read(join(dir, "cpu.cfs_period_us")));
  if (!(quota > 0)) return undefined;
  return quotaOf(quota, period, `cgroup v1 ${dir}: cpu.cfs_quota_us ${quota}, cpu.cfs_period_us ${period}`);
}

function quotaOf(quota: number, period: number, source: string): CpuQuota | undefined {
  if (!(quota > 0) || !(period > 0)) return undefined;
  const cpus = quota / period;
  return { cpus, cores: Math.max(1, Math.ceil(cpus - 1e-9)), source };
}
