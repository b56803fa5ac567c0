/** The contention demo's conclusion line says which way p99 moved. */
import { expect, test } from "bun:test";
import { conclusion } from "../../examples/contention/report.ts";

test("a p99 that went up is 'higher', one that went down 'lower'", () => {
  const row = (regime: string, p99: number) => ({ regime, p99, rps: 1000, jobsPerSec: 10 }) as unknown as Parameters<typeof conclusion>[0][number];
  expect(conclusion([row("shared", 1000), row("dedicated", 250)])).toContain("HTTP p99 4.0x lower");
  expect(conclusion([row("shared", 1000), row("idle", 1400)])).toContain("HTTP p99 1.4x higher");
});
