// `npm run bench [-- --json] [-- --filter GROUP]`: runs every benchmark group and prints its rows.
import type { Benchmark, BenchRow } from "./harness.js";

const groups: Array<() => Promise<Benchmark>> = [];

function register(load: () => Promise<{ benchmark: Benchmark }>): void {
  groups.push(async () => (await load()).benchmark);
}

// Groups are registered here, lowest layer first.
register(() => import("./kernel.js"));
register(() => import("./ttm.js"));
register(() => import("./drm_mm.js"));
register(() => import("./check.js"));

function printRow(row: BenchRow, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  const { name, ...rest } = row;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${v}`)
    .join("  ");
  process.stdout.write(`${name.padEnd(36)} ${fields}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const filterAt = args.indexOf("--filter");
  const filter = filterAt >= 0 ? args[filterAt + 1] : undefined;
  for (const load of groups) {
    const benchmark = await load();
    if (filter !== undefined && benchmark.group !== filter) continue;
    for (const row of benchmark.run()) printRow(row, json);
  }
}

await main();
