/**
 * `bunx bun-thread-manager top <url>`: a live view of a running process, read from its /metrics
 * endpoint (metricsHandler or tm.prometheus()) once a second. q or Ctrl-C quits (the terminal is
 * restored); `--once` prints one frame and exits (scripts, tests); `--interval ms` changes the pace.
 */
import { renderFrame, scrape, type Scrape } from "./top-view.ts";

export async function top(args: string[]): Promise<number> {
  const once = args.includes("--once");
  const at = args.indexOf("--interval");
  const interval = at >= 0 ? Number(args[at + 1]) : 1000;
  const url = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--interval");
  if (!url || !Number.isFinite(interval) || interval < 100) {
    console.error("usage: bun-thread-manager top <metrics url> [--interval ms (>= 100)] [--once]");
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
  if (once) {
    console.log(renderFrame(url, before, undefined, process.stdout.columns ?? 120));
    return 0;
  }
  const tty = process.stdin.isTTY === true;
  let quit!: () => void;
  const quitting = new Promise<void>((resolve) => (quit = resolve));
  const onKey = (data: Buffer) => {
    const key = data.toString();
    if (key.includes("q") || key.includes("\x03")) quit();
  };
  if (tty) process.stdin.setRawMode(true);
  process.stdin.on("data", onKey);
  process.stdin.resume();
  process.on("SIGINT", quit);
  process.stdout.write("\x1b[?25l"); // hide the cursor while drawing
  let status = 0;
  try {
    for (;;) {
      const next = await Promise.race([Bun.sleep(interval).then(() => "tick" as const), quitting.then(() => "quit" as const)]);
      if (next === "quit") break;
      let now: Scrape;
      try {
        now = await read();
      } catch (e) {
        process.stdout.write(`\x1b[H\x1b[2J(top: ${(e as Error).message}; retrying)`);
        continue;
      }
      process.stdout.write(`\x1b[H\x1b[2J${renderFrame(url, now, before, process.stdout.columns ?? 120)}\n`);
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
    process.off("SIGINT", quit);
  }
  return status;
}
