/**
 * Who else listens on a TCP port (Linux, /proc): a serving pool binds with SO_REUSEPORT, so the
 * kernel would let a second copy of an app bind the same port beside a stale first one and split
 * connections between old and new code. The pool refuses that unless told it is deliberate
 * (`share_port`, for rolling restarts). Reads /proc/net/tcp{,6} for listening sockets on the port,
 * keeps those whose inode is not one of this process's fds, and names their process where /proc
 * lets us see it.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";

export interface PortHolder {
  pid?: number;
  /** Its command line, as /proc/<pid>/cmdline has it (spaces for NULs). */
  command?: string;
}

const LISTEN = "0A";

/** The other processes listening on `port` (TCP, IPv4 or IPv6); [] when none or off Linux. */
export function otherListeners(port: number): PortHolder[] {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== LISTEN) continue;
      if (Number.parseInt(f[1]!.split(":").at(-1)!, 16) === port) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return [];
  for (const inode of socketInodes("self")) inodes.delete(inode);
  if (inodes.size === 0) return [];
  const holders: PortHolder[] = [];
  for (const pid of readdirSafe("/proc").filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)) {
    if (![...socketInodes(pid)].some((i) => inodes.has(i))) continue;
    let command: string | undefined;
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    } catch {}
    holders.push({ pid: Number(pid), command });
  }
  return holders.length > 0 ? holders : [{}]; // listening, but /proc does not show whose
}

function socketInodes(pid: string): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSafe(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {}
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
