// Makes the README's pictures of one litmus counterexample (L7, nopage without the truncate
// check): docs/viewer.png, the browser viewer at the finding, and docs/perfetto.png, the
// Perfetto export drawn by a small preview below. ui.perfetto.dev cannot be reached from the
// machines this project is built on, so the second picture is NOT Perfetto's own rendering:
// it draws the exported JSON's tracks, slices, instants, flows and counters the way Perfetto
// lays them out, to show what the file holds.
//
//   npm run build && node docs/screenshots.mjs
//
// Needs Debian's chromium at /usr/bin/chromium (see .ci/run).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "faultline-docs-"));
const cli = (...args) => {
  try {
    execFileSync("node", [join(root, "dist/src/cli/main.js"), ...args], { cwd: root });
  } catch (error) {
    // check exits 1 when a finding does not match; the files are written all the same.
    if (error.status !== 1) throw error;
  }
};

const scenario = join(root, "scenarios/litmus/l07-nopage-no-truncate-check.json");
cli(
  "check",
  scenario,
  "--html",
  join(work, "report.html"),
  "--perfetto",
  join(work, "perfetto.json"),
);
const trace = JSON.parse(readFileSync(join(work, "perfetto.json"), "utf8"));
writeFileSync(join(work, "preview.html"), preview(trace));

const context = await chromium.launchPersistentContext(join(work, "profile"), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--font-render-hinting=none",
    "--hide-scrollbars",
  ],
  viewport: { width: 1280, height: 400 },
  deviceScaleFactor: 1,
});
const page = await context.newPage();
await page.goto(pathToFileURL(join(work, "report.html")).href);
await page.screenshot({ path: join(root, "docs/viewer.png"), fullPage: true });
await page.goto(pathToFileURL(join(work, "preview.html")).href);
await page.screenshot({ path: join(root, "docs/perfetto.png"), fullPage: true });
await context.close();
const exportFile = join(root, "docs/l07.perfetto.json");
writeFileSync(exportFile, `${JSON.stringify(trace, null, 2)}\n`);
// Laid out as the repository's formatter wants it, so that `biome check .` passes.
execFileSync(join(root, "node_modules/.bin/biome"), ["format", "--write", exportFile], {
  cwd: root,
});
rmSync(work, { recursive: true, force: true });

/** An SVG timeline of a Chrome trace event format document, in Perfetto's layout. */
function preview(doc) {
  const events = doc.traceEvents;
  const meta = (name) => events.filter((e) => e.ph === "M" && e.name === name);
  const processName = new Map(meta("process_name").map((e) => [e.pid, e.args.name]));
  const processOrder = new Map(meta("process_sort_index").map((e) => [e.pid, e.args.sort_index]));
  const threads = meta("thread_name").map((e) => ({ pid: e.pid, tid: e.tid, name: e.args.name }));
  const threadOrder = new Map(
    meta("thread_sort_index").map((e) => [`${e.pid}/${e.tid}`, e.args.sort_index]),
  );
  const end = Math.max(...events.filter((e) => e.ph !== "M").map((e) => e.ts + (e.dur ?? 0)));
  const left = 170;
  const width = 1240;
  const x = (ts) => left + (ts / end) * (width - left - 90);
  const rowH = 16;
  const colors = {
    syscall: "#4c8bd6",
    fault: "#e8913a",
    move: "#3fa46a",
    evict: "#8a63d2",
    swapout: "#b35bb0",
    "gpu-job": "#1f9ea8",
    ioctl: "#7d8590",
    lock: "#d4b106",
    wait: "#d1242f",
    step: "#b8c0c8",
  };
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [];
  const where = new Map();
  let y = 40;
  const pids = [...processName.keys()].sort((a, b) => processOrder.get(a) - processOrder.get(b));
  for (const pid of pids) {
    parts.push(
      `<rect x="0" y="${y}" width="${width}" height="20" fill="#e8eaed"/><text x="6" y="${y + 14}" class="proc">${esc(processName.get(pid))} (pid ${pid})</text>`,
    );
    y += 24;
    const counters = [
      ...new Set(events.filter((e) => e.ph === "C" && e.pid === pid).map((e) => e.name)),
    ];
    for (const name of counters) {
      const series = events.filter((e) => e.ph === "C" && e.name === name);
      const max = Math.max(1, ...series.map((e) => e.args.pages));
      let d = "";
      series.forEach((e, i) => {
        const next = series[i + 1]?.ts ?? end;
        const h = y + 24 - (e.args.pages / max) * 20;
        d += `${i === 0 ? "M" : "L"}${x(e.ts)},${h} L${x(next)},${h} `;
      });
      parts.push(
        `<text x="6" y="${y + 16}" class="track">${esc(name)}</text><path d="${d}" fill="none" stroke="#1a73e8" stroke-width="2"/>`,
      );
      y += 30;
    }
    const mine = threads
      .filter((t) => t.pid === pid)
      .sort((a, b) => threadOrder.get(`${a.pid}/${a.tid}`) - threadOrder.get(`${b.pid}/${b.tid}`));
    for (const t of mine) {
      const slices = events
        .filter((e) => e.ph === "X" && e.pid === t.pid && e.tid === t.tid)
        .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
      const stack = [];
      let depthMax = 0;
      const drawn = slices.map((s) => {
        while (stack.length > 0 && stack.at(-1).ts + stack.at(-1).dur <= s.ts) stack.pop();
        const depth = stack.length;
        stack.push(s);
        depthMax = Math.max(depthMax, depth + 1);
        return { s, depth };
      });
      const h = Math.max(1, depthMax) * rowH + 6;
      parts.push(
        `<line x1="0" x2="${width}" y1="${y}" y2="${y}" stroke="#dadce0"/><text x="6" y="${y + 14}" class="track">${esc(t.name)} ${t.tid}</text>`,
      );
      for (const { s, depth } of drawn) {
        const w = Math.max(1, x(s.ts + s.dur) - x(s.ts));
        parts.push(
          `<rect x="${x(s.ts)}" y="${y + 3 + depth * rowH}" width="${w}" height="${rowH - 2}" fill="${colors[s.cat] ?? "#999"}"/>`,
        );
        if (w > 40 && s.cat !== "step")
          parts.push(
            `<text x="${x(s.ts) + 2}" y="${y + 14 + depth * rowH}" class="slice">${esc(s.name).slice(0, Math.floor(w / 6))}</text>`,
          );
      }
      where.set(`${t.pid}/${t.tid}`, y);
      for (const i of events.filter((e) => e.ph === "i" && e.pid === t.pid && e.tid === t.tid)) {
        parts.push(
          `<path d="M${x(i.ts)},${y + 2} l6,10 l-12,0 z" fill="#d1242f"/><text x="${x(i.ts) + 8}" y="${y + 12}" class="instant">${esc(i.name)}</text>`,
        );
      }
      y += h;
    }
    y += 6;
  }
  const flows = new Map();
  for (const e of events.filter((f) => f.ph === "s" || f.ph === "f")) {
    const list = flows.get(e.id) ?? [];
    flows.set(e.id, list);
    list.push(e);
  }
  for (const [, [s, f]] of flows) {
    const y1 = where.get(`${s.pid}/${s.tid}`) + 8;
    const y2 = where.get(`${f.pid}/${f.tid}`) + 8;
    parts.push(
      `<path d="M${x(s.ts)},${y1} C${x(s.ts) + 40},${y1} ${x(f.ts) - 40},${y2} ${x(f.ts)},${y2}" fill="none" stroke="#202124" stroke-width="1.5" marker-end="url(#arrow)"/>`,
    );
  }
  const ticks = [];
  for (let ts = 0; ts <= end; ts += 10)
    ticks.push(
      `<line x1="${x(ts)}" x2="${x(ts)}" y1="22" y2="${y}" stroke="#f1f3f4"/><text x="${x(ts) + 2}" y="32" class="tick">${ts} µs</text>`,
    );
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;font-family:"DejaVu Sans",sans-serif;background:#fff}
.proc{font-size:12px;font-weight:bold}.track{font-size:11px;fill:#3c4043}.slice{font-size:10px;fill:#fff}
.instant{font-size:10px;fill:#d1242f;font-weight:bold}.tick{font-size:10px;fill:#5f6368}.title{font-size:13px}
</style></head><body><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#202124"/></marker></defs>
<text x="6" y="16" class="title">${esc(doc.otherData.scenario)}: the Perfetto export, drawn by docs/screenshots.mjs (not by Perfetto); 1 µs = 1 step</text>
${ticks.join("")}${parts.join("\n")}</svg></body></html>`;
}
