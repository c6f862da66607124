// The counterexample as text: a per-task timeline of the replayed execution, in columns (one
// per task, like the CPU0/CPU1 columns of a lockdep scenario) when few tasks took part, or one
// line per event otherwise. Plain ASCII, so it pastes into a mailing-list mail.

import type { Sched } from "../kernel/sched.js";
import { describeEvent } from "../trace/describe.js";
import type { TraceEvent } from "../trace/index.js";

/** Events the timeline leaves out: wake-ups, placements, mappings and frames, which the viewer
 * shows as state; the steps' effects already say what happened. */
const OMITTED: ReadonlySet<TraceEvent["type"]> = new Set(["wake", "placement", "mapping", "frame"]);

/** What one trace event says in the timeline; null for events it leaves out. */
function timelineText(e: TraceEvent): string | null {
  return OMITTED.has(e.type) ? null : describeEvent(e);
}

/**
 * How wide the timeline may be: the CLI indents it by 6, and a mail line should stay within 100
 * columns.
 */
export const TIMELINE_WIDTH = 94;
/** The widest a task's column gets, when few tasks leave room. */
const MAX_COLUMN = 46;

/**
 * `text` broken into lines of at most `width` characters, at spaces where it can be, else
 * inside a word too long for a line.
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (let word of text.split(" ")) {
    while (word.length > width) {
      const room = line.length === 0 ? width : width - line.length - 1;
      if (room < 8 && line.length > 0) {
        lines.push(line);
        line = "";
        continue;
      }
      const head = word.slice(0, room);
      word = word.slice(room);
      lines.push(line.length === 0 ? head : `${line} ${head}`);
      line = "";
    }
    if (line.length === 0) line = word;
    else if (line.length + 1 + word.length <= width) line = `${line} ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  lines.push(line);
  return lines;
}

/**
 * The timeline of an execution's events. With up to three tasks, one column per task (like the
 * CPU0/CPU1 columns of a lockdep scenario), each cell wrapped within its column; with more, one
 * line per event. Findings are lines of their own across the whole width. Nothing is cut off,
 * and no line is wider than TIMELINE_WIDTH.
 */
export function timeline(events: readonly TraceEvent[], sched: Sched): string {
  const names = new Map(sched.tasks.map((t) => [t.id, t.name]));
  // The setup task ran alone before any thread started; its events are context, not the race.
  const setup = sched.tasks.find((t) => t.name === "setup");
  // A lock taken and released within one step was a critical section nobody could interleave
  // with: it says nothing about the race, so both events are left out.
  const atomic = new Set<TraceEvent>();
  const taken = new Map<string, TraceEvent>();
  for (const e of events) {
    if (e.type === "lock-acquire" && e.ok) taken.set(`${e.task}:${e.lock}`, e);
    if (e.type === "lock-release") {
      const acq = taken.get(`${e.task}:${e.lock}`);
      if (acq !== undefined && acq.step === e.step) {
        atomic.add(acq);
        atomic.add(e);
      }
    }
  }
  const rows = events
    .map((e) => ({ e, text: timelineText(e) }))
    .filter(
      (r): r is { e: TraceEvent; text: string } =>
        r.text !== null && r.e.step >= 0 && r.e.task !== setup?.id && !atomic.has(r.e),
    );
  const name = (id: number): string => names.get(id) ?? (id === 0 ? "kernel" : `task${id}`);
  if (rows.length === 0) return "(no events)";
  const stepCol = (step: number | null): string =>
    step === null ? "     " : String(step).padStart(5);
  /** A finding across the whole width, its wrapped lines under its text. */
  const findingLines = (e: TraceEvent, text: string): string[] =>
    wrapText(`${e.task === 0 ? "" : `${name(e.task)}: `}${text}`, TIMELINE_WIDTH - 10).map((l, i) =>
      `${stepCol(i === 0 ? e.step : null)} ${i === 0 ? "" : "    "}${l}`.trimEnd(),
    );
  const taskIds = [
    ...new Set(rows.filter((r) => r.e.type !== "finding").map((r) => r.e.task)),
  ].sort((a, b) => a - b);
  if (taskIds.length <= 3) {
    const n = Math.max(1, taskIds.length);
    const column = Math.min(MAX_COLUMN, Math.floor((TIMELINE_WIDTH - 6 - (n - 1)) / n));
    const header = ["step ", ...taskIds.map((id) => name(id).slice(0, column).padEnd(column))]
      .join(" ")
      .trimEnd();
    const rule = ["-----", ...taskIds.map(() => "-".repeat(column))].join(" ");
    const lines: string[] = [];
    for (const { e, text } of rows) {
      if (e.type === "finding") {
        lines.push(...findingLines(e, text));
        continue;
      }
      const indent = " ".repeat((column + 1) * taskIds.indexOf(e.task));
      wrapText(text, column - 1).forEach((cell, i) => {
        lines.push(
          `${stepCol(i === 0 ? e.step : null)} ${indent}${i === 0 ? "" : " "}${cell}`.trimEnd(),
        );
      });
    }
    return [header, rule, ...lines].join("\n");
  }
  const width = Math.max(...taskIds.map((id) => name(id).length));
  const lines: string[] = [];
  for (const { e, text } of rows) {
    if (e.type === "finding") {
      lines.push(...findingLines(e, text));
      continue;
    }
    const room = Math.max(20, TIMELINE_WIDTH - 10 - width);
    wrapText(text, room).forEach((l, i) => {
      const who = i === 0 ? name(e.task).padEnd(width) : " ".repeat(width);
      lines.push(
        `${stepCol(i === 0 ? e.step : null)}  ${who}  ${i === 0 ? "" : " "}${l}`.trimEnd(),
      );
    });
  }
  return lines.join("\n");
}
