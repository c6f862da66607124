// The progress bar's line: counts and rate always; the explored fraction and the time left only
// once there is an estimate, and both marked "~" because they are estimates.
import { describe, expect, it } from "vitest";
import { formatDuration, progressLine } from "../../src/cli/progress.js";

describe("progressLine", () => {
  it("shows executions, their rate and findings before there is an estimate", () => {
    const line = progressLine({ executions: 1200, findings: 1, explored: 0, label: "l07" }, 2000);
    expect(line).toBe("l07 | 1200 executions | 600 exec/s | 1 finding");
  });

  it("shows ~explored and ~ETA from the estimate", () => {
    const line = progressLine(
      { executions: 500, findings: 2, explored: 0.25, label: "l08-ttm (2/46)" },
      10_000,
    );
    expect(line).toBe(
      "l08-ttm (2/46) [#####---------------] ~25% explored | 500 executions | 50 exec/s | 2 findings | ETA ~30s",
    );
  });

  it("shows small fractions with a decimal and no ETA once everything is explored", () => {
    expect(
      progressLine({ executions: 1, findings: 0, explored: 0.012, label: "x" }, 1000),
    ).toContain("~1.2% explored");
    const done = progressLine({ executions: 9, findings: 0, explored: 1, label: "x" }, 1000);
    expect(done).toContain("~100% explored");
    expect(done).not.toContain("ETA");
  });
});

describe("formatDuration", () => {
  it("seconds, minutes, hours", () => {
    expect(formatDuration(45.4)).toBe("45s");
    expect(formatDuration(185)).toBe("3m05s");
    expect(formatDuration(3720)).toBe("1h02m");
  });
});
