/**
 * The CPU-heavy job of the contention experiments: SHA-256 over 1 MiB (~2-3 ms of one core), as a
 * compute pool handler. piscina-jobs.ts runs the same work for regime (d).
 */
const DATA = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);

export function hash(rounds: number): number {
  let first = 0;
  for (let r = 0; r < rounds; r++) {
    const digest = new Bun.CryptoHasher("sha256").update(DATA).digest();
    first ^= digest[0]!;
  }
  return first;
}
