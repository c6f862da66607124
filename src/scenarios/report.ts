// The counterexample as text: a per-task timeline of the replayed execution, in columns (one
// per task, like the CPU0/CPU1 columns of a lockdep scenario) when few tasks took part, or one
// line per event otherwise. Plain ASCII, so it pastes into a mailing-list mail.

import type { Sched } from "../kernel/sched.js";
import type { TraceEvent } from "../trace/index.js";

const hex = (n: number): string => `0x${n.toString(16)}`;

/** What one trace event says, in a few words; null for events the timeline leaves out. */
export function describeEvent(e: TraceEvent): string | null {
  switch (e.type) {
    case "span-begin":
      return `${e.span} ${e.name}${e.detail === undefined ? "" : ` (${e.detail})`}`;
    case "span-end":
      return `${e.span} ${e.name} -> ${e.result}`;
    case "lock-acquire":
      if (!e.ok) return `trylock ${e.lock}: busy`;
      return `${e.trylock ? "trylock" : "lock"} ${e.lock}${e.mode === "read" ? " (read)" : ""}`;
    case "lock-wait":
      return `waits for ${e.lock}${e.mode === "read" ? " (read)" : ""}`;
    case "lock-release":
      return `unlock ${e.lock}`;
    case "block":
      return `sleeps on ${e.on}`;
    case "pte-install":
      return `PTE ${e.mm}@${hex(e.vpn)} = pfn ${hex(e.pfn)}`;
    case "pte-zap":
      return `zap PTE ${e.mm}@${hex(e.vpn)} (pfn ${hex(e.pfn)})`;
    case "access":
      return `${e.access} ${e.value} ${e.access === "load" ? "from" : "to"} pfn ${hex(e.pfn)}${e.word === 0 ? "" : ` word ${e.word}`}${e.vpn === undefined ? "" : ` via ${e.mm}@${hex(e.vpn)}`}`;
    case "fence-signal":
      return `signal fence ${e.fence}`;
    case "note":
      return e.text;
    case "finding":
      return `*** ${e.kind}: ${e.message}`;
    case "task-exit":
      return "exits";
    default:
      return null;
  }
}

const COLUMN = 46;

/** The timeline of an execution's events. */
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
    .map((e) => ({ e, text: describeEvent(e) }))
    .filter(
      (r): r is { e: TraceEvent; text: string } =>
        r.text !== null && r.e.step >= 0 && r.e.task !== setup?.id && !atomic.has(r.e),
    );
  const taskIds = [...new Set(rows.map((r) => r.e.task))].sort((a, b) => a - b);
  const name = (id: number): string => names.get(id) ?? (id === 0 ? "kernel" : `task${id}`);
  if (taskIds.length === 0) return "(no events)";
  if (taskIds.length <= 3) {
    const header = ["step ", ...taskIds.map((id) => name(id).padEnd(COLUMN))].join(" ").trimEnd();
    const rule = ["-----", ...taskIds.map(() => "-".repeat(COLUMN))].join(" ");
    const lines = rows.map(({ e, text }) => {
      const col = taskIds.indexOf(e.task);
      const cell = text.length > COLUMN ? `${text.slice(0, COLUMN - 1)}~` : text;
      return `${String(e.step).padStart(5)} ${" ".repeat((COLUMN + 1) * col)}${cell}`.trimEnd();
    });
    return [header, rule, ...lines].join("\n");
  }
  const width = Math.max(...taskIds.map((id) => name(id).length));
  return rows
    .map(({ e, text }) => `${String(e.step).padStart(5)}  ${name(e.task).padEnd(width)}  ${text}`)
    .join("\n");
}
