// The report page in a real browser: Debian's Chromium, headless, driven by playwright-core.
// The tests write reports with the CLI, open them from disk with every network request refused,
// step to the finding with the keyboard and the buttons, and check what a person would look
// for: the highlighted stale PTE of L7 and the wait-for cycle of L18.
//
// Screenshots are compared with the golden images in test/viewer/golden/ (UPDATE_GOLDENS=1
// rewrites them). Their pages are made from recorded counterexamples (*.page.golden.json, the
// data a report page carries) rather than from a fresh check, so that a golden image changes
// only when the viewer does, not when a change in the kernel model moves a step.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pixelmatch from "pixelmatch";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runCli } from "../../src/cli/app.js";
import { writeReport } from "../../src/cli/view.js";
import type { TraceEvent } from "../../src/trace/index.js";
import { decisiveStep, findingsOf, lastStepOf } from "../../src/viewer/model.js";
import { parseViewerData } from "../../src/viewer/page.js";
import { counterexample } from "./traces.js";

vi.setConfig({ testTimeout: 60_000 });

const CHROMIUM = "/usr/bin/chromium";
const GOLDEN_DIR = join(import.meta.dirname, "golden");
const UPDATE = process.env.UPDATE_GOLDENS === "1";
/** Pixels that may differ from a golden image (anti-aliasing aside), as a share of all pixels. */
const MAX_DIFF_RATIO = 0.001;
const VIEWPORT = { width: 1280, height: 900 };

const dir = mkdtempSync(join(tmpdir(), "faultline-viewer-"));
let context: BrowserContext;
const pageErrors: string[] = [];
const refused: string[] = [];

function cli(...argv: string[]): string {
  let out = "";
  let err = "";
  const status = runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: false });
  if (status === 2) throw new Error(`faultline ${argv.join(" ")}: ${err}`);
  return out;
}

const litmus = (name: string): string =>
  join(import.meta.dirname, "..", "..", "scenarios", "litmus", `${name}.json`);

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`,
    );
  cli("check", litmus("l07-nopage-no-truncate-check"), "--html", join(dir, "l07.html"));
  cli("check", litmus("l18-reserve-abba"), "--html", join(dir, "l18.html"));
  for (const name of ["l07-stale-mapping", "l18-deadlock"]) {
    const data = parseViewerData(
      readFileSync(join(GOLDEN_DIR, `${name}.page.golden.json`), "utf8"),
    );
    writeReport(join(dir, `${name}.golden.html`), data.title, data.cases);
  }
  const userDataDir = join(dir, "profile");
  mkdirSync(userDataDir);
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
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
      // Rendering that does not depend on the machine, for the golden images.
      "--font-render-hinting=none",
      "--force-color-profile=srgb",
      "--hide-scrollbars",
    ],
    viewport: VIEWPORT,
    deviceScaleFactor: 1,
    colorScheme: "light",
    reducedMotion: "reduce",
    locale: "en-US",
    timezoneId: "UTC",
  });
  // The page must need nothing but itself.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:")) return route.continue();
    refused.push(url);
    return route.abort();
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(file: string): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(pathToFileURL(join(dir, file)).href);
  await page.locator("#step-number").waitFor();
  return page;
}

const stepText = (page: Page): Promise<string | null> => page.locator("#step-number").textContent();

/** Takes the focus off any control, so that the keys go to the page (and no focus ring shows). */
const blur = async (page: Page): Promise<void> => {
  // A string, because the test's own types know no DOM.
  await page.evaluate("document.activeElement?.blur()");
};

/** Compares a full-page screenshot with test/viewer/golden/<name>.png. */
async function expectGolden(page: Page, name: string): Promise<void> {
  await blur(page);
  await page.mouse.move(0, 0);
  const shot = await page.screenshot({ fullPage: true, animations: "disabled", caret: "hide" });
  const goldenPath = join(GOLDEN_DIR, `${name}.png`);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(goldenPath, shot);
    return;
  }
  if (!existsSync(goldenPath))
    throw new Error(
      `no golden image ${goldenPath}: run UPDATE_GOLDENS=1 npx vitest run test/viewer`,
    );
  const want = PNG.sync.read(readFileSync(goldenPath));
  const got = PNG.sync.read(shot);
  const actualPath = join(tmpdir(), `faultline-${name}.actual.png`);
  if (got.width !== want.width || got.height !== want.height) {
    writeFileSync(actualPath, shot);
    throw new Error(
      `${name}: the page is ${got.width}x${got.height}, the golden image ${want.width}x${want.height} (actual: ${actualPath})`,
    );
  }
  const diff = new PNG({ width: want.width, height: want.height });
  const differing = pixelmatch(want.data, got.data, diff.data, want.width, want.height, {
    threshold: 0.02,
  });
  const allowed = Math.ceil(want.width * want.height * MAX_DIFF_RATIO);
  if (differing > allowed) {
    const diffPath = join(tmpdir(), `faultline-${name}.diff.png`);
    writeFileSync(actualPath, shot);
    writeFileSync(diffPath, PNG.sync.write(diff));
    throw new Error(
      `${name}: ${differing} pixels differ from the golden image (at most ${allowed} may); actual ${actualPath}, diff ${diffPath}; UPDATE_GOLDENS=1 rewrites the goldens`,
    );
  }
}

describe("viewer in Chromium: L7, the stale PTE", () => {
  const { events } = counterexample("l07-nopage-no-truncate-check", "stale-mapping");
  const finding = findingsOf(events).find((f) => f.kind === "stale-mapping")!;
  const last = lastStepOf(events);
  // T's PTE (the setup task ran alone before any thread and installed none).
  const install = events.find(
    (e): e is Extract<TraceEvent, { type: "pte-install" }> => e.type === "pte-install",
  )!;

  it("opens at the finding, with the finding in one sentence", async () => {
    const page = await open("l07.html");
    expect(await stepText(page)).toBe(`${finding.step} / ${last}`);
    expect(await page.locator("#explanation").textContent()).toMatch(
      /^At step \d+, T's user store .* inevitable since step \d+, when M did "X placed in vram/,
    );
    expect(
      await page.getByLabel("Finding", { exact: true }).locator("option").allTextContents(),
    ).toEqual([
      "1. l07-nopage-no-truncate-check: stale-mapping",
      "2. l07-nopage-no-truncate-check: lost-write",
    ]);
    await page.close();
  });

  it("stepping with the keyboard from the start to the finding highlights the stale PTE", async () => {
    const page = await open("l07.html");
    await blur(page);
    await page.keyboard.press("Home");
    expect(await stepText(page)).toBe(`0 / ${last}`);
    expect(await page.locator("tr.pte.stale").count()).toBe(0);
    for (let s = 0; s < install.step - 1; s++) await page.keyboard.press("ArrowRight");
    expect(await stepText(page)).toBe(`${install.step - 1} / ${last}`);
    // X is mapped but T has not installed its PTE yet.
    await expect
      .poll(() => page.locator('[data-buffer="X"] tr.pte').textContent())
      .toContain("not present");
    expect(await page.locator("tr.pte.stale").count()).toBe(0);
    for (let s = install.step - 1; s < finding.step; s++) await page.keyboard.press("ArrowRight");
    expect(await stepText(page)).toBe(`${finding.step} / ${last}`);
    expect(await page.locator("#step-heading").textContent()).toContain("the finding's step");
    const stale = page.locator('[data-buffer="X"] tr.pte.stale');
    expect(await stale.count()).toBe(1);
    const pfn = `0x${install.pfn.toString(16)}`;
    expect(await stale.getAttribute("data-pfn")).toBe(pfn);
    expect(await stale.textContent()).toMatch(
      new RegExp(`STALE since step ${install.step}: X\\[0\\] is at 0x`),
    );
    // The stale row is set apart by more than its text: its background is the highlight colour.
    const bg = await stale
      .locator("td")
      .first()
      .evaluate(
        (td) =>
          (
            globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }
          ).getComputedStyle(td).backgroundColor,
      );
    expect(bg).toBe("rgb(255, 235, 233)");
    await page.keyboard.press("End");
    expect(await stepText(page)).toBe(`${last} / ${last}`);
    await page.close();
  });

  it("the buttons and the slider move the step; the decisive step is M's move", async () => {
    const page = await open("l07.html");
    const decisive = decisiveStep(events, finding)!.other!.step;
    await page.getByRole("button", { name: "Decisive step" }).click();
    expect(await stepText(page)).toBe(`${decisive} / ${last}`);
    expect(await page.locator("#step-heading").textContent()).toContain("the decisive step");
    await page.getByRole("button", { name: "Next ›" }).click();
    expect(await stepText(page)).toBe(`${decisive + 1} / ${last}`);
    await page.getByRole("button", { name: "‹ Previous" }).click();
    await page.getByRole("button", { name: "‹ Previous" }).click();
    expect(await stepText(page)).toBe(`${decisive - 1} / ${last}`);
    const slider = page.getByLabel("Step", { exact: true });
    await slider.focus();
    await page.keyboard.press("ArrowRight");
    expect(await stepText(page)).toBe(`${decisive} / ${last}`);
    await page.keyboard.press("Home");
    expect(await stepText(page)).toBe(`0 / ${last}`);
    await page.getByRole("button", { name: "Finding step" }).click();
    expect(await stepText(page)).toBe(`${finding.step} / ${last}`);
    await page.getByRole("button", { name: "« First" }).click();
    expect(await stepText(page)).toBe(`0 / ${last}`);
    await page.getByRole("button", { name: "Last »" }).click();
    expect(await stepText(page)).toBe(`${last} / ${last}`);
    await page.close();
  });

  it("looks like its golden image at the finding", async () => {
    const page = await open("l07-stale-mapping.golden.html");
    await expectGolden(page, "l07-stale-mapping");
    await page.close();
  });
});

describe("viewer in Chromium: L18, the wait-for cycle", () => {
  const { events } = counterexample("l18-reserve-abba", "deadlock");
  const finding = findingsOf(events).find((f) => f.kind === "deadlock")!;

  it("the deadlock finding shows the cycle A → B → A and both tasks' locks", async () => {
    const page = await open("l18.html");
    await page
      .getByLabel("Finding", { exact: true })
      .selectOption({ label: "2. l18-reserve-abba: deadlock" });
    expect(await stepText(page)).toBe(`${finding.step} / ${lastStepOf(events)}`);
    expect(await page.locator("#cycle").textContent()).toBe("Deadlock. Wait-for cycle: A → B → A");
    const rows = page.locator(".locks-panel tbody tr");
    expect(await rows.allTextContents()).toEqual([
      expect.stringMatching(/^AX\.resv since step \d+, simdrm_reserve_ioctlY\.resv, held by B/),
      expect.stringMatching(/^BY\.resv since step \d+, simdrm_reserve_ioctlX\.resv, held by A/),
    ]);
    expect(await page.locator(".locks-panel tr.in-cycle").count()).toBe(2);
    expect(await page.locator(".kernel-report").textContent()).toContain("INFO: task A:");
    // One step earlier only B waits: no cycle yet.
    await blur(page);
    await page.keyboard.press("ArrowLeft");
    expect(await page.locator("#cycle").count()).toBe(0);
    await page.keyboard.press("End");
    expect(await page.locator("#cycle").count()).toBe(1);
    await page.close();
  });

  it("looks like its golden image at the deadlock", async () => {
    const page = await open("l18-deadlock.golden.html");
    await page
      .getByLabel("Finding", { exact: true })
      .selectOption({ label: "2. l18-reserve-abba: deadlock" });
    await expectGolden(page, "l18-deadlock");
    await page.close();
  });
});

describe("viewer in Chromium: faultline view", () => {
  it("a replay token and a trace file make the same kind of page", async () => {
    const c = counterexample("l07-nopage-no-truncate-check", "stale-mapping");
    expect(cli("view", c.replay, "-o", join(dir, "token.html"))).toMatch(
      /wrote .*token\.html: l07-nopage-no-truncate-check, 2 findings/,
    );
    cli("replay", c.replay, "--trace", join(dir, "trace.json"));
    cli("view", join(dir, "trace.json"), "-o", join(dir, "trace.html"));
    for (const file of ["token.html", "trace.html"]) {
      const page = await open(file);
      expect(await page.locator("tr.pte.stale").count()).toBe(1);
      await page.close();
    }
  });

  it("no page asked for anything beyond itself, and no script failed", () => {
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
