/**
 * `bunx bun-thread-manager top <url>`: a live view of a running process, read from its /metrics
 * endpoint (metricsHandler or tm.prometheus()) once a second. q, Ctrl-C, SIGTERM or SIGHUP quits
 * (the terminal is restored); `--once` prints one frame from two scrapes an interval apart and
 * exits (scripts, tests; exit 1 if the endpoint is not ours); `--interval ms` changes the pace.
 */
import { hasPools, renderFrame, scrape, type Scrape } from "./top-view.ts";

const USAGE = "usage: bun-thread-manager top <metrics url> [--interval ms (>= 100)] [--once]";

export async function top(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const once = args.includes("--once");
  const at = args.indexOf("--interval");
  const interval = at >= 0 ? Number(args[at + 1]) : 1000;
  const url = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--interval");
  if (!url || !Number.isFinite(interval) || interval < 100) {
    console.error(USAGE);
    return 2;
  }
  if (!/^https?:\/\//i.test(url)) {
    console.error(`top: "${url}" is not a URL: give the whole address, e.g. http://${url.replace(/^\/+/, "")}${url.includes("/") ? "" : "/metrics"}`);
    return 2;
  }
  const read = async (): Promise<Scrape> => {
    const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) throw new Error(`${url} answered ${r.status} ${r.statusText}`);
    return scrape(await r.text(), Date.now());
  };
  let before: Scrape;
  try {
    before = await read();
  } catch (e) {
    console.error(`top: cannot read ${url}: ${(e as Error).message}`);
    return 1;
  }
  if (!hasPools(before)) {
    console.error(`top: ${url} has no bun-thread-manager metrics (serve metricsHandler(tm) or tm.prometheus() there)`);
    return 1;
  }
  // Only a terminal has a width to wrap to; a pipe gets whole lines.
  const width = () => (process.stdout.isTTY && process.stdout.columns > 0 ? process.stdout.columns : Infinity);
  if (once) {
    await Bun.sleep(interval);
    const now = await read().catch(() => undefined);
    console.log(renderFrame(url, now ?? before, now ? before : undefined, width(), false));
    return 0;
  }
  const tty = process.stdin.isTTY === true;
  let quit!: () => void;
  const quitting = new Promise<"quit">((resolve) => (quit = () => resolve("quit")));
  const onKey = (data: Buffer) => {
    const key = data.toString();
    if (/[qQ\x03]/.test(key)) quit();
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  if (tty) process.stdin.setRawMode(true);
  process.stdin.on("data", onKey);
  process.stdin.resume();
  for (const s of signals) process.on(s, quit);
  process.stdout.write("\x1b[?25l"); // hide the cursor while drawing
  const draw = (now: Scrape, prev?: Scrape) => process.stdout.write(`\x1b[H\x1b[2J${renderFrame(url, now, prev, width())}\n`);
  let status = 0;
  try {
    draw(before);
    for (;;) {
      if ((await Promise.race([Bun.sleep(interval).then(() => "tick" as const), quitting])) === "quit") break;
      // A slow endpoint must not make q wait for the scrape.
      const now = await Promise.race([read().catch((e: Error) => e), quitting]);
      if (now === "quit") break;
      if (now instanceof Error) {
        process.stdout.write(`\x1b[H\x1b[2J(top: ${now.message}; retrying)`);
        continue;
      }
      draw(now, before);
      before = now;
    }
  } catch (e) {
    console.error(`top: ${(e as Error).message}`);
    status = 1;
  } finally {
    process.stdout.write("\x1b[?25h\n");
    if (tty) process.stdin.setRawMode(false);
    process.stdin.off("data", onKey);
    process.stdin.pause();
    for (const s of signals) process.off(s, quit);
  }
  return status;
}
