// What the CLI tests share: running the command in this thread, and reading its --json output.
import { runCli } from "../../src/cli/app.js";

/** Runs `faultline ARGV...` in this thread and returns its exit status and what it printed. */
export function run(...argv: string[]): { status: number; out: string; err: string } {
  let out = "";
  let err = "";
  const status = runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: false });
  return { status, out, err };
}

/** The objects of `--json` output, one per line. */
export function lines(text: string): Array<Record<string, unknown>> {
  return text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A JSON line without the clock. */
export function timeless(json: Record<string, unknown>): Record<string, unknown> {
  const { elapsedMs: _elapsedMs, ...rest } = json;
  return rest;
}
