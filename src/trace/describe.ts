// What one trace event says, in a few words: the text timeline of a counterexample
// (src/scenarios/report.ts), the viewer's event list and the Perfetto export's slice names all
// say it the same way. Here, in the lowest layer, because the viewer may import only src/trace.

import type { TraceEvent } from "./index.js";

/** A number as the kernel prints a PFN or a virtual page number. */
export const hex = (n: number): string => `0x${n.toString(16)}`;

/** The process name of an mm ("mm:P" is P's address space). */
export const processOfMm = (mm: string): string => (mm.startsWith("mm:") ? mm.slice(3) : mm);

/** What `e` says; null for bookkeeping events (steps, spawns, frames) the event list leaves out. */
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
    case "wake":
      return `wakes task ${e.woken} (${e.on})`;
    case "pte-install":
      return `PTE ${e.mm}@${hex(e.vpn)} = pfn ${hex(e.pfn)}`;
    case "pte-zap":
      return `zap PTE ${e.mm}@${hex(e.vpn)} (pfn ${hex(e.pfn)})`;
    case "access":
      return `${e.via === "user" ? "" : `${e.via} `}${e.access} ${e.value} ${e.access === "load" ? "from" : "to"} pfn ${hex(e.pfn)}${e.word === 0 ? "" : ` word ${e.word}`}${e.vpn === undefined ? "" : ` via ${e.mm}@${hex(e.vpn)}`}`;
    case "fence-signal":
      return `signal fence ${e.fence}`;
    case "placement":
      return e.place === "none"
        ? `${e.buffer} has no placement`
        : e.place === "swapped"
          ? `${e.buffer} swapped out`
          : `${e.buffer} placed in ${e.place}${placementPfns(e.pfns, e.aperture)}`;
    case "mapping":
      return e.pages === 0
        ? `${e.map} unmapped from ${e.mm}`
        : `${e.map}: ${e.buffer} mapped at ${e.mm}@${hex(e.vpn)} (${e.pages} page${e.pages === 1 ? "" : "s"})`;
    case "frame":
      return e.owner === ""
        ? `frame ${hex(e.pfn)} (${e.pool}) has no owner`
        : `frame ${hex(e.pfn)} (${e.pool}) -> ${e.owner}`;
    case "note":
      return e.text;
    case "finding":
      return `*** ${e.kind}: ${e.message}`;
    case "task-exit":
      return "exits";
    case "task-spawn":
    case "step":
      return null;
  }
}

function placementPfns(pfns: readonly number[], aperture: readonly number[] | undefined): string {
  const backed = pfns.filter((p) => p >= 0);
  if (backed.length === 0) return "";
  const list = pfns.map((p) => (p < 0 ? "-" : hex(p))).join(", ");
  const ap =
    aperture === undefined
      ? ""
      : `, aperture ${aperture.map((p) => (p < 0 ? "-" : hex(p))).join(", ")}`;
  return ` (pfn ${list}${ap})`;
}
