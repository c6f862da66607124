// Seeing a counterexample: `faultline view TRACE.json|TOKEN [-o report.html]` writes the
// self-contained report page of the browser viewer; `check --html` writes one for every finding
// of a run; `check --perfetto` and `replay --perfetto` write the Chrome trace event format for
// ui.perfetto.dev. The page inlines the viewer that `npm run build` (and `npm install`) built
// with Vite into dist/viewer/.

import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { decodeToken } from "../check/token.js";
import { type CheckResult, replayScenario } from "../scenarios/check.js";
import type { Scenario } from "../scenarios/scenario.js";
import {
  decodeTrace,
  encodeTrace,
  TRACE_FORMAT,
  type TraceEvent,
  TraceFormatError,
} from "../trace/index.js";
import { findingsOf } from "../viewer/model.js";
import {
  VIEWER_FORMAT,
  type ViewerBundle,
  type ViewerCase,
  type ViewerData,
  viewerHtml,
} from "../viewer/page.js";
import { toPerfetto } from "../viewer/perfetto.js";

/** An input error of these commands: printed as one line, exit status 2. */
export class ViewError extends Error {
  override readonly name = "ViewError";
}

/** What the view commands need from the rest of the CLI. */
export interface ViewDeps {
  out(text: string): void;
  readScenario(file: string): Scenario;
  /** The scenario file a token's source names. */
  fileOfSource(source: string): string;
  setStatus(status: number): void;
}

/** The directory of the built viewer: dist/viewer under the package root. */
function viewerDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(dir, "dist", "viewer");
}

/** The built viewer's script and style. */
export function loadViewerBundle(): ViewerBundle {
  const dir = viewerDir();
  const js = join(dir, "viewer.js");
  const css = join(dir, "viewer.css");
  if (!existsSync(js) || !existsSync(css))
    throw new ViewError(`the browser viewer is not built (${js}): run npm run build`);
  return { js: readFileSync(js, "utf8"), css: readFileSync(css, "utf8") };
}

/** Writes the page for `cases`. */
export function writeReport(file: string, title: string, cases: readonly ViewerCase[]): void {
  const data: ViewerData = { format: VIEWER_FORMAT, title, cases };
  writeFileSync(file, viewerHtml(data, loadViewerBundle()));
}

/** Writes the Chrome trace event format of one execution. */
export function writePerfetto(
  file: string,
  scenario: string,
  replay: string,
  events: readonly TraceEvent[],
): void {
  writeFileSync(file, `${JSON.stringify(toPerfetto({ meta: { scenario, replay }, events }))}\n`);
}

/**
 * What `check` (and `merge`) --trace, --perfetto and --html collect while scenarios are
 * reported: the first finding's execution for the trace and for Perfetto, every finding's for
 * the page. Each finding is replayed from its token once.
 */
export class CheckArtifacts {
  private readonly cases: ViewerCase[] = [];
  private traceWritten = false;
  private perfettoWritten = false;
  private scenarios = 0;

  constructor(private readonly flags: { trace?: string; perfetto?: string; html?: string }) {}

  /** Whether any artifact was asked for, so that findings must be replayed. */
  get wanted(): boolean {
    const f = this.flags;
    return f.trace !== undefined || f.perfetto !== undefined || f.html !== undefined;
  }

  add(s: Scenario, r: CheckResult, maxSteps: number | undefined): void {
    this.scenarios++;
    if (!this.wanted) return;
    r.findings.forEach((f, i) => {
      const first = i === 0;
      const wantTrace = this.flags.trace !== undefined && !this.traceWritten && first;
      const wantPerfetto = this.flags.perfetto !== undefined && !this.perfettoWritten && first;
      if (!wantTrace && !wantPerfetto && this.flags.html === undefined) return;
      const replay = replayScenario(s, f.replay, maxSteps);
      if (wantTrace) {
        writeTrace(this.flags.trace!, s.name, f.replay, replay.events);
        this.traceWritten = true;
      }
      if (wantPerfetto) {
        writePerfetto(this.flags.perfetto!, s.name, f.replay, replay.events);
        this.perfettoWritten = true;
      }
      if (this.flags.html === undefined) return;
      this.cases.push({
        scenario: s.name,
        kind: f.kind,
        message: f.message,
        replay: f.replay,
        ...(f.report === undefined ? {} : { report: f.report }),
        events: replay.events,
      });
    });
  }

  /** Writes the page, when one was asked for (also when no scenario had a finding). */
  finish(): void {
    if (this.flags.html === undefined) return;
    const title =
      this.cases.length === 0
        ? `faultline check: no findings in ${this.scenarios} scenario${this.scenarios === 1 ? "" : "s"}`
        : this.scenarios === 1
          ? `faultline: ${this.cases[0]!.scenario}`
          : `faultline check: ${this.cases.length} findings in ${this.scenarios} scenarios`;
    writeReport(this.flags.html, title, this.cases);
  }
}

/** Writes faultline's own trace format of one execution (`--trace`). */
export function writeTrace(
  file: string,
  scenario: string,
  replay: string,
  events: readonly TraceEvent[],
): void {
  writeFileSync(file, encodeTrace({ format: TRACE_FORMAT, meta: { scenario, replay }, events }));
}

/** The cases of a replayed token: one per finding, all on the same execution. */
function casesOfToken(
  token: string,
  scenarioFile: string | undefined,
  deps: ViewDeps,
): ViewerCase[] {
  const decoded = decodeToken(token);
  const s = deps.readScenario(scenarioFile ?? deps.fileOfSource(decoded.source));
  const replay = replayScenario(s, token);
  const base = { scenario: s.name, replay: token, events: replay.events };
  if (replay.findings.length === 0) return [{ ...base, kind: "", message: "no finding" }];
  return replay.findings.map((f) => ({
    ...base,
    kind: f.kind,
    message: f.message,
    ...(f.report === undefined ? {} : { report: f.report }),
  }));
}

/** The cases of a trace file: one per finding event. */
function casesOfTraceFile(file: string): ViewerCase[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new ViewError(`${file}: cannot read the file`);
  }
  let trace: ReturnType<typeof decodeTrace>;
  try {
    trace = decodeTrace(text);
  } catch (error) {
    if (error instanceof TraceFormatError)
      throw new ViewError(`${file}: not a ${TRACE_FORMAT} trace (${error.message})`);
    throw error;
  }
  const scenario = String(trace.meta.scenario ?? file);
  const replay = typeof trace.meta.replay === "string" ? trace.meta.replay : "";
  const base = { scenario, replay, events: trace.events };
  const findings = findingsOf(trace.events);
  if (findings.length === 0) return [{ ...base, kind: "", message: "no finding" }];
  // The viewer focuses a case on the first finding of its kind; one case per kind.
  const first = findings.filter((f, i) => findings.findIndex((g) => g.kind === f.kind) === i);
  return first.map((f) => ({ ...base, kind: f.kind, message: f.message }));
}

/** Registers `faultline view`. */
export function registerViewCommand(program: Command, deps: ViewDeps): void {
  program
    .command("view")
    .description("write a self-contained HTML report of a trace file or a replay token")
    .argument("<trace-or-token>", "a trace written by --trace, or a replay token")
    .option("-o, --output <report.html>", "where to write the page", "report.html")
    .option("--scenario <file>", "the scenario file, when it is not where the token says")
    .option("--perfetto <out.json>", "also write the Chrome trace event format")
    .action((target: string, flags: { output: string; scenario?: string; perfetto?: string }) => {
      const isFile = existsSync(target) && statSync(target).isFile();
      if (!isFile && !/^fl\d+\./.test(target))
        throw new ViewError(`${target}: no such trace file, and not a replay token (fl1....)`);
      const cases = isFile ? casesOfTraceFile(target) : casesOfToken(target, flags.scenario, deps);
      const first = cases[0]!;
      writeReport(flags.output, `faultline: ${first.scenario}`, cases);
      if (flags.perfetto !== undefined)
        writePerfetto(flags.perfetto, first.scenario, first.replay, first.events);
      const found = cases.filter((c) => c.kind !== "").length;
      deps.out(
        `wrote ${flags.output}: ${first.scenario}, ${found} finding${found === 1 ? "" : "s"}\n`,
      );
      deps.setStatus(0);
    });
}
