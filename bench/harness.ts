// Benchmark harness: each bench module exports `benchmarks`, a list of named functions that
// measure something and return rows. Rows are printed one JSON object per line with --json.
// Wall-clock time is allowed here: benchmarks live outside src/ and never influence a trace.

export type BenchRow = { name: string } & Record<string, string | number | boolean>;

export interface Benchmark {
  /** Row name prefix, e.g. "kernel" or "drm_mm"; used by --filter. */
  readonly group: string;
  run(): BenchRow[];
}

/** Runs `body` `iterations` times after `warmup` runs; returns mean nanoseconds per iteration. */
export function measureNs(iterations: number, body: (i: number) => void, warmup = 0): number {
  for (let i = 0; i < warmup; i++) body(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) body(i);
  const elapsed = process.hrtime.bigint() - start;
  return Number(elapsed) / iterations;
}

/** Wall time of one call in milliseconds, and the value it returned. */
export function timeMs<T>(body: () => T): { ms: number; value: T } {
  const start = process.hrtime.bigint();
  const value = body();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

/** Resident set size now, in megabytes (rounded to 0.1). */
export function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 1e5) / 10;
}

/** Heap in use now, in megabytes (rounded to 0.1). */
export function heapUsedMb(): number {
  return Math.round(process.memoryUsage().heapUsed / 1e5) / 10;
}

/** Rounds a figure for printing: integers above 100, three significant digits below. */
export function round(x: number): number {
  if (Math.abs(x) >= 100) return Math.round(x);
  return Number(x.toPrecision(3));
}
