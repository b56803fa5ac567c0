/** The pure scaling rule, with exact numbers: no threads, the clock injected. */
import { describe, expect, test } from "bun:test";
import { ScalingRule, type ScalerSample } from "../../src/scaling/scaling-rule.ts";

const config = { window: 10, lowWatermark: 2, maxSpawnPerTick: 2, cores: 4, maxThreads: 8 };
const idle: Omit<ScalerSample, "now"> = { arrivals: 0, completions: 0, queueDepth: 0, active: 1, busy: 0, parkedDynamic: 3, total: 4 };
const alpha = 2 / 11;

/** A rule that has seen its first tick at t = 0. */
function started(c = config) {
  const rule = new ScalingRule(c);
  expect(rule.tick({ now: 0, ...idle }).case).toBe("first");
  return rule;
}

describe("frequency and trend", () => {
  test("rates are floats in tasks per ms: 45 tasks in 90 ms is 0.5, not 0", () => {
    const rule = started();
    const d = rule.tick({ now: 90, ...idle, arrivals: 45 });
    expect(d.rate).toBe(0.5);
    expect(rule.window()).toEqual([0.5]);
  });

  test("a window slide alone is never a rise: one busy tick, then zeros, never provisions", () => {
    const rule = started({ ...config, window: 10 });
    rule.tick({ now: 90, ...idle, arrivals: 90 }); // 1 task/ms once
    const later = [];
    for (let t = 2; t <= 30; t++) later.push(rule.tick({ now: t * 90, ...idle, arrivals: 0 }));
    expect(later.filter((d) => d.case === "rising")).toEqual([]);
    expect(later.every((d) => d.currEma <= d.prevEma && d.wanted === 0)).toBe(true);
  });

  test("curr - prev = alpha * (rate - prev): the new rate against the EMA of the samples that stay", () => {
    const rule = started({ ...config, window: 3 });
    for (let i = 1; i <= 3; i++) rule.tick({ now: i * 10, ...idle, arrivals: 10 * i }); // window [1, 2, 3]
    const d = rule.tick({ now: 40, ...idle, arrivals: 20 }); // window [2, 3, 2]
    const a = 2 / 4;
    expect(d.prevEma).toBeCloseTo(a * 3 + (1 - a) * 2, 12); // [2, 3]
    expect(d.currEma - d.prevEma).toBeCloseTo(a * (2 - d.prevEma), 12);
  });

  test("EMA: alpha = 2 / (N + 1), the newest sample weighs most", () => {
    const rule = new ScalingRule(config);
    expect(rule.alpha).toBe(alpha);
    expect(rule.ema([1, 2])).toBeCloseTo(alpha * 2 + (1 - alpha) * 1, 12); // 13/11
    expect(rule.ema([2, 1])).toBeCloseTo(alpha * 1 + (1 - alpha) * 2, 12); // 20/11: order matters
    expect(rule.ema([3, 3, 3])).toBeCloseTo(3, 12); // equal rates: flat (the rule compares with an epsilon)
  });

  test("the window slides at N + 1: the oldest sample leaves", () => {
    const rule = started({ ...config, window: 3 });
    for (let i = 1; i <= 4; i++) rule.tick({ now: i * 10, ...idle, arrivals: i * 10 });
    expect(rule.window()).toEqual([2, 3, 4]);
  });
});

describe("the three cases and starvation", () => {
  test("rising: min(cores, floor(lw * (curr - prev) + lw)); dynamic threads unparked first", () => {
    const rule = started();
    rule.tick({ now: 90, ...idle, arrivals: 0 }); // window [0], EMA 0
    const d = rule.tick({ now: 180, ...idle, arrivals: 90 }); // 1 task/ms
    expect(d.case).toBe("rising");
    expect(d.prevEma).toBe(0);
    expect(d.currEma).toBeCloseTo(alpha, 12); // 2/11
    expect(d.wanted).toBe(Math.floor(2 * alpha + 2)); // 2
    expect([d.unpark, d.spawn]).toEqual([2, 0]);
  });

  test("rising past the parked dynamic threads spawns standalone ones, capped at cores and max_spawn_per_tick", () => {
    const rule = started();
    rule.tick({ now: 90, ...idle });
    const d = rule.tick({ now: 180, ...idle, arrivals: 9000, parkedDynamic: 1, busy: 1 }); // 100 tasks/ms: a spike; the one active thread busy
    expect(d.currEma - d.prevEma).toBeCloseTo(100 * alpha, 9);
    expect(d.wanted).toBe(4); // floor(2 * 18.18 + 2) = 38, capped at cores = 4
    expect([d.unpark, d.spawn]).toEqual([1, 2]); // 3 more wanted, 2 spawns a tick at most
  });

  test("max_threads caps what is spawned", () => {
    const rule = started({ ...config, maxThreads: 5 });
    rule.tick({ now: 90, ...idle });
    const d = rule.tick({ now: 180, ...idle, arrivals: 9000, parkedDynamic: 0, busy: 1, total: 4 }); // the one active thread busy
    expect([d.wanted, d.unpark, d.spawn]).toEqual([4, 0, 1]);
  });

  test("falling: nothing; threads shrink themselves", () => {
    const rule = started();
    rule.tick({ now: 90, ...idle, arrivals: 900 });
    const d = rule.tick({ now: 180, ...idle, arrivals: 90 });
    expect(d.case).toBe("falling");
    expect([d.wanted, d.unpark, d.spawn]).toEqual([0, 0, 0]);
  });

  test("throughput hogs: a steady rate, work waiting, every thread busy: low_watermark more a tick, linearly, up to max_threads", () => {
    const rule = started();
    const hogged = { ...idle, arrivals: 0, completions: 0, queueDepth: 100, active: 2, busy: 2, parkedDynamic: 0, total: 2 };
    rule.tick({ now: 90, ...hogged, arrivals: 100 }); // the burst arrives: rising
    const out = [];
    for (let t = 2; t <= 4; t++) out.push(rule.tick({ now: t * 90, ...hogged, completions: 1, arrivals: 1, active: 2 * t, busy: 2 * t, total: 2 * t }));
    // arrivals 1 / 90 ms each tick: the EMA falls from the burst, yet work waits and everyone is busy
    expect(out.map((d) => d.case)).toEqual(["hog", "hog", "hog"]);
    expect(out.map((d) => d.wanted)).toEqual([2, 2, 2]);
    expect(out.map((d) => d.spawn)).toEqual([2, 2, 0]); // the third tick: 8 threads = max_threads
  });

  test("hogs after arrivals stopped: a backlog of 94 with 1 completion a tick still adds threads; a backlog that drains within the tick does not", () => {
    const rule = started();
    rule.tick({ now: 90, ...idle, arrivals: 100 });
    const stalled = rule.tick({ now: 180, ...idle, arrivals: 0, completions: 1, queueDepth: 94, active: 3, busy: 3, parkedDynamic: 0, total: 3 });
    expect(stalled.case).toBe("hog");
    expect([stalled.wanted, stalled.spawn]).toEqual([2, 2]);
    const draining = rule.tick({ now: 270, ...idle, arrivals: 0, completions: 10, queueDepth: 3, active: 3, busy: 3, parkedDynamic: 0, total: 3 });
    expect(draining.case).toBe("falling");
    expect(draining.wanted).toBe(0);
  });

  test("no spawn while an active thread is not busy: a rise the running threads can absorb starts nothing", () => {
    const rule = started();
    rule.tick({ now: 90, ...idle });
    const d = rule.tick({ now: 180, ...idle, arrivals: 9000, parkedDynamic: 0, active: 4, busy: 3, total: 4 }); // wanted 4, one thread idle
    expect(d.wanted).toBe(4);
    expect([d.unpark, d.spawn]).toEqual([0, 0]);
  });

  test("hog is not judged by float equality: a steady window of equal rates with idle threads is steady", () => {
    const rule = started();
    let d;
    for (let t = 1; t <= 12; t++) d = rule.tick({ now: t * 90, ...idle, arrivals: 90, completions: 90, active: 2, busy: 1 });
    expect(d!.case).toBe("steady");
    expect(d!.wanted).toBe(0);
  });

  test("starvation: queue not empty, no completion for a whole tick, some thread not busy: one more, even with no arrivals", () => {
    const rule = started();
    rule.tick({ now: 90, ...idle });
    const d = rule.tick({ now: 180, ...idle, queueDepth: 5, completions: 0, arrivals: 0, active: 2, busy: 1 });
    expect(d.case).toBe("starved");
    expect([d.wanted, d.unpark]).toEqual([1, 1]);
  });
});
