// The `faultline` command compiled from this source tree, for tests that need worker threads:
// vitest runs the TypeScript sources, and a worker thread can only load JavaScript. Every file
// under src/ is transpiled on its own with Vite's Oxc transform (the project compiles with
// isolatedModules and verbatimModuleSyntax, so that is what tsc emits, minus the type check
// that `npm test` runs anyway) into a temporary package, laid out as dist/ is, that links the
// repository's node_modules and scenarios. That takes a fraction of a second, where
// `tsc -p tsconfig.build.json` takes half a minute, and it never runs a stale dist/.

import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { transformWithOxc } from "vite";

const ROOT = join(import.meta.dirname, "..", "..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Compiles src/ into a fresh temporary package; returns the path of its main.js. */
export async function compileCli(): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), "faultline-compiled-"));
  await Promise.all(
    sources(join(ROOT, "src")).map(async (file) => {
      const { code } = await transformWithOxc(readFileSync(file, "utf8"), file, {
        lang: "ts",
        target: "es2023",
        typescript: { onlyRemoveTypeImports: true },
      });
      const target = join(out, relative(ROOT, file)).replace(/\.ts$/, ".js");
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, code);
    }),
  );
  writeFileSync(join(out, "package.json"), JSON.stringify({ name: "faultline", type: "module" }));
  symlinkSync(join(ROOT, "node_modules"), join(out, "node_modules"), "dir");
  symlinkSync(join(ROOT, "scenarios"), join(out, "scenarios"), "dir");
  return join(out, "src", "cli", "main.js");
}

/** Runs the compiled command. */
export function runCompiled(
  main: string,
  argv: readonly string[],
): { status: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [main, ...argv], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}
