// The tidy test: the layer rule of DESIGN.md and the determinism law of STYLE.md, checked on
// every file under src/. A wrong import names the layers the importing layer may use.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..", "src");

/** Which layers each layer may import (besides itself). Imports point down only. */
const ALLOWED: Record<string, readonly string[]> = {
  trace: [],
  kernel: ["trace"],
  drm_mm: ["trace"],
  ttm: ["kernel", "drm_mm", "trace"],
  protocols: ["ttm", "kernel", "drm_mm", "trace"],
  check: ["kernel", "trace"],
  scenarios: ["protocols", "check", "ttm", "kernel", "drm_mm", "trace"],
  cli: ["scenarios", "protocols", "check", "ttm", "kernel", "drm_mm", "trace", "viewer"],
  viewer: ["trace"],
};

/** Layers that may use Node APIs, wall-clock time and timers. */
const NODE_LAYERS = new Set(["cli"]);

/** APIs that would make the core nondeterministic or tie it to Node. */
const BANNED: ReadonlyArray<[RegExp, string]> = [
  [/\bMath\.random\b/, "Math.random (use the seeded Prng passed in)"],
  [/\bDate\b/, "Date (use the simulated clock)"],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, "timers (use the simulated clock)"],
  [/\bperformance\.now\b/, "performance.now (use the simulated clock)"],
  [/\bprocess\./, "process (only cli/ may touch the environment)"],
  [/from\s+["']node:/, "a node: module (only cli/ may use Node APIs)"],
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx)$/.test(name)) out.push(path);
  }
  return out;
}

function layerOf(file: string): string {
  return relative(SRC, file).split(sep)[0] ?? "";
}

/** Strips comments so that prose mentioning Date or process does not trip the ban. */
function codeOnly(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

const files = sourceFiles(SRC);

describe("tidy", () => {
  it("finds the source tree", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it("has only the layers of DESIGN.md", () => {
    for (const file of files) expect(Object.keys(ALLOWED)).toContain(layerOf(file));
  });

  it("imports only point down (DESIGN.md layers)", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const layer = layerOf(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:import|export)[^"';]*?from\s+["']([^"']+)["']/g)) {
        const spec = m[1]!;
        if (!spec.startsWith(".")) continue;
        const target = relative(SRC, join(file, "..", spec)).split(sep)[0] ?? "";
        if (target === layer) continue;
        if (!ALLOWED[layer]?.includes(target)) {
          const may = ALLOWED[layer]?.join(", ") || "nothing";
          wrong.push(
            `${relative(SRC, file)} imports ${target}/ (${spec}); ${layer}/ may import: ${may}`,
          );
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("keeps the core deterministic and free of Node APIs", () => {
    const wrong: string[] = [];
    for (const file of files) {
      if (NODE_LAYERS.has(layerOf(file))) continue;
      const code = codeOnly(readFileSync(file, "utf8"));
      for (const [re, what] of BANNED)
        if (re.test(code)) wrong.push(`${relative(SRC, file)} uses ${what}`);
    }
    expect(wrong).toEqual([]);
  });
});
