// The commands that write what the viewer and Perfetto read: `check --perfetto/--html`,
// `replay --perfetto` and `faultline view`, their files and their one-line input errors.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DATA_ELEMENT_ID, parseViewerData } from "../../src/viewer/page.js";
import { run } from "../cli/run_cli.js";
import { LITMUS_DIR } from "./traces.js";

const dir = mkdtempSync(join(tmpdir(), "faultline-view-"));
const l18 = join(LITMUS_DIR, "l18-reserve-abba.json");

/** The data a report page carries. */
function pageData(file: string) {
  const html = readFileSync(file, "utf8");
  const m = html.match(
    new RegExp(`<script type="application/json" id="${DATA_ELEMENT_ID}">(.*?)</script>`, "s"),
  );
  if (m === null) throw new Error("no data element");
  return { html, data: parseViewerData(m[1]!) };
}

describe("check --html and --perfetto", () => {
  it("writes one page with every finding, and the first finding for Perfetto", () => {
    const html = join(dir, "l18.html");
    const perfetto = join(dir, "l18.json");
    const r = run("check", l18, "--html", html, "--perfetto", perfetto, "--json");
    expect(r.status).toBe(0);
    // --json still prints exactly one line per scenario.
    expect(r.out.trim().split("\n")).toHaveLength(1);
    const { html: text, data } = pageData(html);
    expect(data.cases.map((c) => c.kind)).toEqual(["lock-order", "deadlock"]);
    expect(data.cases[1]!.report).toContain("blocked for more than 120 seconds");
    // Self-contained: no external script, style or link, and a policy that forbids fetching.
    expect(text).not.toMatch(/<script[^>]+src=|<link |@import|url\(http/);
    expect(text).toContain(`content="default-src 'none';`);
    const trace = JSON.parse(readFileSync(perfetto, "utf8")) as { otherData: { replay: string } };
    expect(trace.otherData.replay).toBe(JSON.parse(r.out).findings[0].replay);
  });

  it("replay --perfetto writes the replayed execution", () => {
    const token = JSON.parse(run("check", l18, "--json").out).findings[1].replay as string;
    const out = join(dir, "replay.json");
    expect(run("replay", token, "--perfetto", out).status).toBe(1);
    const trace = JSON.parse(readFileSync(out, "utf8")) as {
      traceEvents: Array<{ ph: string; name: string }>;
    };
    expect(trace.traceEvents.some((e) => e.ph === "i" && e.name === "deadlock")).toBe(true);
  });

  it("check --html without findings still writes a page that says so", () => {
    const html = join(dir, "ok.html");
    expect(run("check", join(LITMUS_DIR, "l18-reserve-ticket.json"), "--html", html).status).toBe(
      0,
    );
    expect(pageData(html).data).toEqual(
      expect.objectContaining({ title: "faultline check: no findings in 1 scenario", cases: [] }),
    );
  });
});

describe("faultline view: input errors are one line, exit 2", () => {
  it("a path that is neither a file nor a token", () => {
    const r = run("view", join(dir, "missing.json"));
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/missing\.json: no such trace file, and not a replay token/);
  });

  it("a file that is not a trace", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"x":1}\n');
    const r = run("view", bad, "-o", join(dir, "bad.html"));
    expect(r.status).toBe(2);
    expect(r.err).toBe(
      `faultline: ${bad}: not a faultline/trace@1 trace (line 1: expected format "faultline/trace@1", found undefined)\n`,
    );
  });

  it("a malformed token", () => {
    const r = run("view", "fl1.nope");
    expect(r.status).toBe(2);
    expect(r.err.split("\n")).toHaveLength(2);
  });
});
