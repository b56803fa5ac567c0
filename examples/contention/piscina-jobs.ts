/** Regime (d): the same job as jobs.ts, as a piscina worker. */
import { hash } from "./jobs.ts";

export default function (rounds: number): number {
  return hash(rounds);
}
