// The browser viewer: reads the page's embedded data and draws one counterexample at a time.
// A lane per task (its system calls, faults, moves, lock holds and waits as bars), a step slider
// with keyboard stepping, and, at the selected step, every task's held and awaited locks (with
// the wait-for cycle of a deadlock), every buffer's placement, frames and PTEs (with stale PTEs
// highlighted), and the finding in one sentence with the step at which it became inevitable.
//
// Plain DOM, no framework, no timers: every change of step redraws the panels synchronously.

import "./viewer.css";
import { describeEvent, hex } from "../../trace/describe.js";
import type { FindingEvent, TraceEvent } from "../../trace/index.js";
import {
  bufferViews,
  type Decisive,
  decisiveStep,
  explainFinding,
  findingsOf,
  lastStepOf,
  type Slice,
  slicesOf,
  snapshotAt,
  type TaskInfo,
  tasksOf,
  waitCycle,
  waitsFor,
} from "../model.js";
import { DATA_ELEMENT_ID, parseViewerData, type ViewerCase, type ViewerData } from "../page.js";

// ---------------------------------------------------------------------------------------------
// A tiny element builder

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

// ---------------------------------------------------------------------------------------------
// One case, analysed once

interface Prepared {
  readonly c: ViewerCase;
  readonly events: readonly TraceEvent[];
  readonly tasks: readonly TaskInfo[];
  readonly lastStep: number;
  readonly slices: readonly Slice[];
  /** Steps each task ran. */
  readonly steps: ReadonlyMap<number, readonly number[]>;
  readonly finding: FindingEvent | null;
  readonly decisive: Decisive | null;
  readonly explanation: string;
}

function prepare(c: ViewerCase): Prepared {
  const events = c.events;
  const findings = findingsOf(events);
  const finding = findings.find((f) => f.kind === c.kind) ?? findings[0] ?? null;
  const steps = new Map<number, number[]>();
  for (const e of events) {
    if (e.type !== "step") continue;
    const list = steps.get(e.task) ?? [];
    steps.set(e.task, list);
    list.push(e.step);
  }
  return {
    c,
    events,
    tasks: tasksOf(events),
    lastStep: lastStepOf(events),
    slices: slicesOf(events),
    steps,
    finding,
    decisive: finding === null ? null : decisiveStep(events, finding),
    explanation:
      finding === null ? "This execution raised no finding." : explainFinding(events, finding),
  };
}

// ---------------------------------------------------------------------------------------------
// The page

class Viewer {
  private current: Prepared;
  private step = 0;
  private readonly cache = new Map<number, Prepared>();
  private readonly slider: HTMLInputElement;
  private readonly stepOutput: HTMLOutputElement;
  private readonly explanation: HTMLParagraphElement;
  private readonly replay: HTMLElement;
  private readonly lanes: HTMLElement;
  private readonly panels: HTMLElement;
  private readonly report: HTMLElement;
  private cursors: HTMLElement[] = [];

  constructor(
    private readonly data: ViewerData,
    root: HTMLElement,
  ) {
    this.current = this.prepared(0);
    const select = h(
      "select",
      { id: "finding", "aria-describedby": "explanation" },
      ...data.cases.map((c, i) =>
        h("option", { value: i }, `${i + 1}. ${c.scenario}: ${c.kind || "no finding"}`),
      ),
    );
    select.addEventListener("change", () => this.showCase(Number(select.value)));
    this.explanation = h("p", { id: "explanation", class: "explanation" });
    this.replay = h("p", { class: "replay" });
    this.slider = h("input", { type: "range", id: "step", min: 0, max: 0, value: 0 });
    this.slider.addEventListener("input", () => this.setStep(Number(this.slider.value)));
    this.stepOutput = h("output", { id: "step-number", for: "step" });
    const button = (
      id: string,
      label: string,
      key: string,
      go: () => number,
    ): HTMLButtonElement => {
      const b = h("button", { type: "button", id, "aria-keyshortcuts": key || undefined }, label);
      b.addEventListener("click", () => this.setStep(go()));
      return b;
    };
    const controls = h(
      "div",
      { class: "controls", role: "group", "aria-label": "Step controls" },
      button("first", "« First", "Home", () => 0),
      button("prev", "‹ Previous", "ArrowLeft", () => this.step - 1),
      h("label", { for: "step" }, "Step"),
      this.slider,
      this.stepOutput,
      button("next", "Next ›", "ArrowRight", () => this.step + 1),
      button("last", "Last »", "End", () => this.current.lastStep),
      button("to-decisive", "Decisive step", "", () => this.decisiveStepIndex()),
      button("to-finding", "Finding step", "", () => this.findingStepIndex()),
    );
    this.lanes = h("section", { class: "lanes", "aria-label": "Task lanes" });
    this.panels = h("div", { class: "panels" });
    this.report = h("section", { class: "report", "aria-label": "Kernel report" });
    root.append(
      h(
        "header",
        {},
        h("h1", {}, data.title),
        h(
          "div",
          { class: "finding-select" },
          h("label", { for: "finding" }, "Finding"),
          select,
          data.cases.length > 1 ? ` (${data.cases.length} in this report)` : null,
        ),
        this.explanation,
        this.replay,
      ),
      controls,
      this.lanes,
      this.panels,
      this.report,
    );
    document.addEventListener("keydown", (e) => this.onKey(e));
    this.showCase(0);
  }

  private prepared(i: number): Prepared {
    let p = this.cache.get(i);
    if (p === undefined) {
      p = prepare(this.data.cases[i]!);
      this.cache.set(i, p);
    }
    return p;
  }

  private findingStepIndex(): number {
    return Math.max(0, this.current.finding?.step ?? this.current.lastStep);
  }

  private decisiveStepIndex(): number {
    return this.current.decisive?.other?.step ?? this.findingStepIndex();
  }

  private onKey(e: KeyboardEvent): void {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const target = e.target as HTMLElement | null;
    // The slider and the finding selector handle their own arrows and Home/End.
    if (target !== null && (target === this.slider || target.tagName === "SELECT")) return;
    const next =
      e.key === "ArrowLeft"
        ? this.step - 1
        : e.key === "ArrowRight"
          ? this.step + 1
          : e.key === "Home"
            ? 0
            : e.key === "End"
              ? this.current.lastStep
              : null;
    if (next === null) return;
    e.preventDefault();
    this.setStep(next);
  }

  private showCase(i: number): void {
    this.current = this.prepared(i);
    const p = this.current;
    this.explanation.textContent = p.explanation;
    this.replay.replaceChildren(
      ...(p.c.replay === "" ? [] : ["Replay: ", h("code", {}, `faultline replay ${p.c.replay}`)]),
    );
    this.slider.max = String(p.lastStep);
    this.renderLanes();
    this.report.replaceChildren(
      ...(p.c.report === undefined
        ? []
        : [
            h("h2", {}, "Kernel report"),
            h("pre", { class: "kernel-report", tabindex: 0 }, p.c.report),
          ]),
    );
    this.setStep(this.findingStepIndex());
  }

  private setStep(step: number): void {
    this.step = Math.min(Math.max(0, Math.round(step)), this.current.lastStep);
    this.slider.value = String(this.step);
    this.stepOutput.textContent = `${this.step} / ${this.current.lastStep}`;
    const left = `${this.x(this.step)}%`;
    for (const c of this.cursors) c.style.left = left;
    this.renderPanels();
  }

  /** Where step `s` starts, in percent of a lane's width. */
  private x(s: number): number {
    return (s / (this.current.lastStep + 1)) * 100;
  }

  // -------------------------------------------------------------------------------------------
  // Lanes

  private renderLanes(): void {
    const p = this.current;
    const width = (a: number, b: number): string => `${Math.max(this.x(b) - this.x(a), 0.15)}%`;
    this.cursors = [];
    const rows: HTMLElement[] = [];
    const axis = h("div", { class: "lane-track axis", "aria-hidden": "true" });
    const every = p.lastStep > 200 ? 50 : p.lastStep > 80 ? 20 : 10;
    for (let s = 0; s <= p.lastStep; s += every)
      axis.append(h("span", { class: "axis-label", style: `left:${this.x(s)}%` }, String(s)));
    rows.push(
      h("div", { class: "lane axis-row" }, h("div", { class: "lane-label" }, "step"), axis),
    );
    for (const t of p.tasks) {
      const slices = p.slices.filter((s) => s.task === t.id);
      const steps = p.steps.get(t.id) ?? [];
      const isFindingTask = p.decisive?.finding.task === t.id;
      if (slices.length === 0 && steps.length === 0 && !isFindingTask) continue;
      const track = h("div", { class: "lane-track" });
      track.addEventListener("click", (e) => {
        const box = track.getBoundingClientRect();
        this.setStep(Math.floor(((e.clientX - box.left) / box.width) * (p.lastStep + 1)));
      });
      // Bars in rows: a bar goes to the first row whose bars all end before it starts.
      const rowEnds: number[] = [];
      for (const s of slices) {
        let row = rowEnds.findIndex((end) => end <= s.start);
        if (row < 0) row = rowEnds.push(0) - 1;
        rowEnds[row] = s.end;
        track.append(
          h(
            "div",
            {
              class: `bar kind-${s.kind}${s.open ? " open" : ""}`,
              style: `left:${this.x(s.start)}%;width:${width(s.start, s.end)};top:${4 + row * 16}px`,
              title: `${s.name}${s.args.detail === undefined ? "" : ` (${s.args.detail})`}: steps ${s.start}–${s.end}${s.open ? ", unfinished" : s.args.result === undefined ? "" : ` -> ${s.args.result}`}`,
            },
            s.name,
          ),
        );
      }
      const height = 8 + Math.max(1, rowEnds.length) * 16 + 8;
      track.style.height = `${height}px`;
      for (const s of steps)
        track.append(
          h("div", { class: "tick", style: `left:${this.x(s)}%;width:${width(s, s + 1)}` }),
        );
      const d = p.decisive;
      if (d?.other?.task === t.id)
        track.append(
          h("div", {
            class: "mark decisive",
            style: `left:${this.x(d.other.step)}%;width:${width(d.other.step, d.other.step + 1)}`,
            title: `decisive step ${d.other.step}`,
          }),
        );
      if (isFindingTask && d !== null)
        track.append(
          h("div", {
            class: "mark finding",
            style: `left:${this.x(d.finding.step)}%;width:${width(d.finding.step, d.finding.step + 1)}`,
            title: `finding at step ${d.finding.step}`,
          }),
        );
      const cursor = h("div", { class: "cursor", "aria-hidden": "true" });
      this.cursors.push(cursor);
      track.append(cursor);
      rows.push(
        h(
          "div",
          { class: "lane", "data-task": t.name },
          h(
            "div",
            { class: "lane-label" },
            h("span", { class: "task-name" }, t.name),
            h(
              "span",
              { class: "task-kind" },
              t.process === undefined ? t.kind : `${t.kind} · ${t.process}`,
            ),
          ),
          track,
        ),
      );
    }
    this.lanes.replaceChildren(
      h("h2", {}, "Tasks"),
      h(
        "p",
        { class: "legend" },
        ...(
          ["syscall", "fault", "move", "evict", "swapout", "gpu-job", "lock", "wait"] as const
        ).map((k) => h("span", { class: `legend-item kind-${k}` }, k)),
        h("span", { class: "legend-item mark-decisive" }, "decisive step"),
        h("span", { class: "legend-item mark-finding" }, "finding"),
      ),
      ...rows,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Panels at the selected step

  private renderPanels(): void {
    const p = this.current;
    const snap = snapshotAt(p.events, this.step);
    const name = (id: number): string => p.tasks.find((t) => t.id === id)?.name ?? `task${id}`;

    // What happened in this step.
    const here = p.events.filter((e) => e.step === this.step);
    const ran = here.find((e) => e.type === "step");
    const items = here
      .map((e) => ({ e, text: describeEvent(e) }))
      .filter((r): r is { e: TraceEvent; text: string } => r.text !== null)
      .map(({ e, text }) =>
        h(
          "li",
          { class: e.type === "finding" ? "event finding" : "event" },
          h("b", {}, name(e.task)),
          ` ${text}`,
        ),
      );
    const marks: string[] = [];
    if (p.finding !== null && this.step === Math.max(0, p.finding.step))
      marks.push("the finding's step");
    if (p.decisive?.other?.step === this.step) marks.push("the decisive step");
    const stepPanel = h(
      "section",
      { class: "panel step-panel", "aria-labelledby": "step-heading" },
      h(
        "h2",
        { id: "step-heading", "aria-live": "polite" },
        `Step ${this.step}${marks.length > 0 ? ` — ${marks.join(", ")}` : ""}`,
      ),
      ran === undefined || ran.type !== "step"
        ? h("p", {}, "No task ran in this step.")
        : h("p", {}, h("b", {}, name(ran.task)), ` ran ${ran.site}: ${ran.op} ${ran.obj}`),
      items.length === 0 ? null : h("ul", { class: "events" }, ...items),
    );

    // Locks.
    const cycle = waitCycle(snap);
    const inCycle = new Set(cycle ?? []);
    const lockRows = [...snap.tasks.values()]
      .filter(
        (t) => !t.exited && (t.held.length > 0 || t.waitingFor !== null || t.blockedOn !== null),
      )
      .sort((a, b) => a.id - b.id)
      .map((t) => {
        const waits =
          t.waitingFor !== null
            ? `${t.waitingFor.lock}${t.waitingFor.mode === "read" ? " (read)" : ""}, held by ${waitsFor(snap, t).map(name).join(", ") || "nobody"} (since step ${t.waitingFor.since})`
            : t.blockedOn !== null
              ? `${t.blockedOn.on} (since step ${t.blockedOn.since})`
              : "—";
        return h(
          "tr",
          { class: inCycle.has(t.id) ? "in-cycle" : undefined, "data-task": name(t.id) },
          h("th", { scope: "row" }, name(t.id)),
          h(
            "td",
            {},
            t.held.length === 0
              ? "—"
              : h(
                  "ul",
                  { class: "plain" },
                  ...t.held.map((l) =>
                    h(
                      "li",
                      {},
                      `${l.lock}${l.mode === "read" ? " (read)" : ""}`,
                      h("span", { class: "since" }, ` since step ${l.since}, ${l.site}`),
                    ),
                  ),
                ),
          ),
          h(
            "td",
            { class: t.waitingFor !== null || t.blockedOn !== null ? "waiting" : undefined },
            waits,
          ),
        );
      });
    const cycleText =
      cycle === null ? null : `Wait-for cycle: ${[...cycle, cycle[0]!].map(name).join(" → ")}`;
    const locksPanel = h(
      "section",
      { class: "panel locks-panel", "aria-labelledby": "locks-heading" },
      h("h2", { id: "locks-heading" }, "Locks"),
      cycleText === null
        ? null
        : h(
            "p",
            { id: "cycle", class: "cycle", role: "status" },
            h("b", {}, "Deadlock. "),
            cycleText,
          ),
      lockRows.length === 0
        ? h("p", {}, "No task holds or waits for a lock.")
        : h(
            "table",
            {},
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Task"),
                h("th", { scope: "col" }, "Holds"),
                h("th", { scope: "col" }, "Waits for"),
              ),
            ),
            h("tbody", {}, ...lockRows),
          ),
    );

    // Buffers, frames and PTEs.
    const views = bufferViews(snap);
    const fmt = (pfn: number | null): string => (pfn === null || pfn < 0 ? "—" : hex(pfn));
    const bufferSections = views.map((b) => {
      const staleCount = b.ptes.filter((pte) => pte.stale).length;
      return h(
        "section",
        { class: "buffer", "data-buffer": b.name, "aria-labelledby": `buffer-${b.name}` },
        h(
          "h3",
          { id: `buffer-${b.name}` },
          `${b.name} `,
          h("span", { class: `place place-${b.place}` }, b.place),
          b.since >= 0 ? h("span", { class: "since" }, ` since step ${b.since}`) : null,
          staleCount > 0
            ? h(
                "span",
                { class: "stale-badge" },
                ` ${staleCount} stale PTE${staleCount === 1 ? "" : "s"}`,
              )
            : null,
        ),
        b.pages.length === 0
          ? h("p", {}, "No pages.")
          : h(
              "table",
              { class: "pages" },
              h("caption", {}, `Pages of ${b.name}`),
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", { scope: "col" }, "Page"),
                  h("th", { scope: "col" }, "Frame (pfn)"),
                  h("th", { scope: "col" }, "Aperture pfn"),
                  h("th", { scope: "col" }, "Frame owner"),
                ),
              ),
              h(
                "tbody",
                {},
                ...b.pages.map((pg) =>
                  h(
                    "tr",
                    {},
                    h("th", { scope: "row" }, String(pg.index)),
                    h("td", {}, fmt(pg.pfn)),
                    h("td", {}, fmt(pg.aperture)),
                    h("td", {}, pg.owner ?? "—"),
                  ),
                ),
              ),
            ),
        b.ptes.length === 0
          ? h("p", {}, `No process maps ${b.name}.`)
          : h(
              "table",
              { class: "ptes" },
              h("caption", {}, `PTEs of every mapping of ${b.name}`),
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  h("th", { scope: "col" }, "Process"),
                  h("th", { scope: "col" }, "Mapping"),
                  h("th", { scope: "col" }, "Virtual page"),
                  h("th", { scope: "col" }, "Buffer page"),
                  h("th", { scope: "col" }, "PTE pfn"),
                  h("th", { scope: "col" }, "State"),
                ),
              ),
              h(
                "tbody",
                {},
                ...b.ptes.map((pte) => {
                  const expected = b.pages[pte.page];
                  const where =
                    expected === undefined || expected.pfn < 0
                      ? `${b.name}[${pte.page}] has no frame now`
                      : `${b.name}[${pte.page}] is at ${hex(expected.pfn)}${expected.aperture !== null && expected.aperture >= 0 ? ` (aperture ${hex(expected.aperture)})` : ""}`;
                  const state =
                    pte.pfn === null
                      ? "not present"
                      : pte.stale
                        ? `STALE since step ${pte.since}: ${where}; ${hex(pte.pfn)} ${pte.owner === null ? "belongs to no buffer" : pte.owner === `${b.name}[${pte.page}]` ? "still holds an old copy" : `belongs to ${pte.owner}`}`
                        : `ok (since step ${pte.since})`;
                  return h(
                    "tr",
                    {
                      class: pte.stale ? "pte stale" : pte.pfn === null ? "pte absent" : "pte",
                      "data-pfn": pte.pfn === null ? undefined : hex(pte.pfn),
                    },
                    h("th", { scope: "row" }, pte.process),
                    h("td", {}, pte.map),
                    h("td", {}, hex(pte.vpn)),
                    h("td", {}, String(pte.page)),
                    h("td", {}, fmt(pte.pfn)),
                    h("td", { class: "state" }, state),
                  );
                }),
              ),
            ),
      );
    });
    const buffersPanel = h(
      "section",
      { class: "panel buffers-panel", "aria-labelledby": "buffers-heading" },
      h("h2", { id: "buffers-heading" }, "Buffers"),
      ...(bufferSections.length === 0 ? [h("p", {}, "No buffer exists yet.")] : bufferSections),
    );
    this.panels.replaceChildren(stepPanel, locksPanel, buffersPanel);
  }
}

// ---------------------------------------------------------------------------------------------

function start(): void {
  const root = document.getElementById("app");
  const source = document.getElementById(DATA_ELEMENT_ID);
  if (root === null || source === null) return;
  try {
    new Viewer(parseViewerData(source.textContent ?? ""), root);
  } catch (error) {
    root.replaceChildren(
      h("p", { class: "error" }, `Cannot show this report: ${(error as Error).message}`),
    );
  }
}

start();
