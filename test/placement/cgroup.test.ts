/**
 * Container CPU quotas: the reader (cgroup v2 cpu.max, v1 cfs quota/period, the smallest along the
 * path) on files laid out like /sys/fs/cgroup, and a real cgroup: a process under a 1-CPU quota
 * sizes its default pools by it and `plan` and `check` say so.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuQuota } from "../../src/platform/cgroup.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "btm-cgroup-"));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test("cgroup v2: cpu.max, rounded up; the smallest limit along the path wins; 'max' is none", () => {
  const root = tree({ "cgroup.controllers": "cpu", "kubepods/cpu.max": "250000 100000", "kubepods/pod1/cpu.max": "150000 100000", "kubepods/pod1/app/cpu.max": "max 100000" });
  const q = cpuQuota(root, "0::/kubepods/pod1/app\n")!;
  expect(q.cpus).toBe(1.5);
  expect(q.cores).toBe(2);
  expect(q.source).toContain("kubepods/pod1/cpu.max: 150000 100000");
  expect(cpuQuota(tree({ "cgroup.controllers": "cpu", "cpu.max": "max 100000" }), "0::/\n")).toBeUndefined();
});

test("cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us; -1 is none", () => {
  const root = tree({ "cpu,cpuacct/cpu.cfs_quota_us": "-1", "cpu,cpuacct/cpu.cfs_period_us": "100000", "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "200000", "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000" });
  expect(cpuQuota(root, "4:cpu,cpuacct:/docker/abc\n")).toMatchObject({ cpus: 2, cores: 2 });
  expect(cpuQuota(root, "4:cpu,cpuacct:/\n")).toBeUndefined();
  expect(cpuQuota(root, "")).toBeUndefined();
});

/** A cgroup with a 1-CPU quota this test may create (root, cgroup v1 cpu or a writable v2 with cpu), or why not. */
function quotaCgroup(): { procs: string; remove(): void } | string {
  const v1 = "/sys/fs/cgroup/cpu";
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : undefined;
  try {
    if (existsSync(join(v1, "cpu.cfs_quota_us"))) {
      const dir = join(v1, `btm-test-${process.pid}`);
      mkdirSync(dir);
      writeFileSync(join(dir, "cpu.cfs_quota_us"), "100000");
      return { procs: join(dir, "cgroup.procs"), remove: () => rmdirSync(dir) };
    }
    if (v2) {
      const dir = join(v2, `btm-test-${process.pid}`);
      mkdirSync(dir);
      writeFileSync(join(dir, "cpu.max"), "100000 100000");
      return { procs: join(dir, "cgroup.procs"), remove: () => rmdirSync(dir) };
    }
    return "no cgroup cpu controller mounted";
  } catch (e) {
    return `cannot create a cgroup here (${(e as Error).message}): run as root on Linux`;
  }
}

test("a real cgroup with a 1-CPU quota: default pool sizes follow it; plan shows it; check warns about more", () => {
  const cg = quotaCgroup();
  if (typeof cg === "string") {
    console.warn(`skipped the real-cgroup part: ${cg}`);
    return;
  }
  try {
    const script = `
      import { checkConfig } from "${new URL("../../src/config/validate.ts", import.meta.url).pathname}";
      const fixtures = "${new URL("../fixtures/", import.meta.url).pathname}";
      const sized = checkConfig({ compute: { cpu: { module: "./math.ts" } } }, fixtures);
      const over = checkConfig({ compute: { cpu: { module: "./math.ts", static_threads: 2, max_threads: 2 } } }, fixtures);
      console.log(JSON.stringify({ quota: sized.resolved.cpuQuota, threads: sized.resolved.pools[0].threads, resident: sized.resolved.pools[0].scaling, warnings: over.warnings }));`;
    const cmd = ["sh", "-c", `echo $$ > ${cg.procs} && exec "${process.execPath}" -e '${script.replace(/'/g, "'\\''")}'`];
    const r = Bun.spawnSync(cmd, { timeout: 30_000 });
    expect(r.stderr.toString()).toBe("");
    const out = JSON.parse(r.stdout.toString());
    expect(out.quota.cpus).toBe(1);
    expect(out.threads).toBe(1); // max_threads defaults to the quota, not the 2 allowed cores
    expect(out.warnings.join("\n")).toContain("(cpu quota): the pools start 2 threads that always run, but this process may use 1 CPU of time");
    const plan = Bun.spawnSync(["sh", "-c", `echo $$ > ${cg.procs} && exec "${process.execPath}" ${new URL("../../src/cli.ts", import.meta.url).pathname} plan ${new URL("../fixtures/plugin-app/threads.toml", import.meta.url).pathname}`]);
    expect(plan.stdout.toString()).toContain("CPU quota: 1 CPU of time (cgroup");
  } finally {
    cg.remove();
  }
});
