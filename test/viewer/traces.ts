// Counterexamples of built-in litmus scenarios, as the viewer and the Perfetto export get them:
// each finding of a check, replayed from its token with the trace on.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { checkScenario, replayScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";
import type { TraceEvent } from "../../src/trace/index.js";

export const LITMUS_DIR = join(import.meta.dirname, "..", "..", "scenarios", "litmus");

export interface Counterexample {
  readonly scenario: string;
  readonly kind: string;
  readonly replay: string;
  readonly events: readonly TraceEvent[];
}

const cache = new Map<string, Counterexample[]>();

/** Every finding of litmus scenario `name` (the file name without .json), replayed. */
export function counterexamples(name: string): Counterexample[] {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const file = join(LITMUS_DIR, `${name}.json`);
  const scenario = loadScenario(readFileSync(file, "utf8"), file);
  const r = checkScenario(scenario, { source: `litmus:${name}.json` });
  const out = r.findings.map((f) => ({
    scenario: name,
    kind: f.kind,
    replay: f.replay,
    events: replayScenario(scenario, f.replay).events,
  }));
  cache.set(name, out);
  return out;
}

/** The counterexample of `name` for finding `kind`. */
export function counterexample(name: string, kind: string): Counterexample {
  const c = counterexamples(name).find((x) => x.kind === kind);
  if (c === undefined) throw new Error(`${name} has no ${kind} finding`);
  return c;
}
