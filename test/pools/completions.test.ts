/** How completions reach the main thread: no busy loop while waiting or idle, coalesced wake-ups. */
import { afterEach, describe, expect, test } from "bun:test";
import { MATH, managers, processCpuMs } from "./helpers.ts";

const m = managers();
afterEach(() => m.closeAll());

describe.skipIf(process.platform !== "linux")("completions", () => {
  test("while a long task runs, the main thread sleeps on the doorbell instead of spinning", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 1 } } });
    const cpu = tm.compute("cpu");
    await cpu.run("add", [1, 1]);
    const before = processCpuMs();
    expect(await cpu.run("busyThenMark", [400, 0, new Int32Array(new SharedArrayBuffer(4))])).toBe(0);
    const used = processCpuMs() - before;
    // The worker burns ~400 ms; a spinning main thread would add ~400 more.
    expect(used).toBeLessThan(600);
    expect(cpu.metrics().mainWakeups).toBeGreaterThanOrEqual(1);
  });

  test("an idle pool costs no CPU on any thread", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    await tm.compute("cpu").run("add", [1, 1]);
    await Bun.sleep(20); // let searchers finish their bounded spin
    const before = processCpuMs();
    await Bun.sleep(500);
    expect(processCpuMs() - before).toBeLessThan(100);
  });

  test("many completions, few wake-ups: the doorbell rings once per sleep, not per task", async () => {
    const tm = await m.start({ compute: { cpu: { module: MATH, max_threads: 2 } } });
    const cpu = tm.compute("cpu");
    const n = 20_000;
    let next = 0;
    await new Promise<void>((resolve) => {
      let done = 0;
      const launch = () => {
        const i = next++;
        cpu.run("add", [i, 1]).then((v) => {
          if (v !== i + 1) throw new Error(`wrong result for ${i}`);
          if (++done === n) resolve();
          else if (next < n) launch();
        });
      };
      for (let k = 0; k < 256; k++) launch();
    });
    const { completed, mainWakeups } = cpu.metrics();
    expect(completed).toBe(n);
    expect(mainWakeups).toBeLessThan(n / 20);
  }, 30_000);
});
