/**
 * The built-in HTTP load generator, for machines without wrk: `connections` closed loops of
 * keep-alive fetch for `seconds`, every latency kept; prints the same JSON as load.ts's wrk script.
 * Heavier per request than wrk (a JS fetch per request), so its rps is lower; compare regimes
 * measured with the same generator only.
 *
 * bun examples/contention/load-generator.ts <url> <connections> <seconds>
 */
const [url, connections = "32", seconds = "10"] = process.argv.slice(2);
const end = performance.now() + Number(seconds) * 1000;
let latencies = new Float64Array(1 << 20);
let n = 0;
let errors = 0;
const started = performance.now();
await Promise.all(Array.from({ length: Number(connections) }, async () => {
  while (performance.now() < end) {
    const t = performance.now();
    try {
      const r = await fetch(url!);
      await r.arrayBuffer();
      if (!r.ok) errors++;
    } catch {
      errors++;
      continue;
    }
    if (n === latencies.length) {
      const bigger = new Float64Array(n * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[n++] = (performance.now() - t) * 1000;
  }
}));
const durationUs = (performance.now() - started) * 1000;
const sorted = latencies.subarray(0, n).sort();
const at = (q: number) => (n === 0 ? 0 : Math.round(sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]!));
console.log(`LOAD ${JSON.stringify({ requests: n, duration_us: Math.round(durationUs), errors, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: at(1) })}`);
