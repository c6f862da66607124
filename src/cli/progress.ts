// A progress bar for long checks (cli-progress), on stderr and only on a terminal: executions
// so far, executions per second, findings, and the strategies' estimate of the fraction of the
// run explored, with the time left that it implies. Quiet until a run has gone on for half a
// second. With worker threads the numbers are totals over every worker (pool.ts adds them up).
//
// The fraction is an estimate (Knuth's estimator over each unit's search tree, averaged over the
// run's units as if they were the same size), so the line marks it and the time left with "~".

import cliProgress from "cli-progress";

/** What the bar shows: totals over the run so far. */
export interface RunProgress {
  readonly executions: number;
  readonly findings: number;
  /** Estimated fraction of the run explored, in [0, 1]; 0 when nothing can be estimated yet. */
  readonly explored: number;
  /** What is running ("l07-ttm", "3/46 scenarios, l08-ttm"). */
  readonly label: string;
}

/** "45s", "3m05s", "1h02m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

const BAR_WIDTH = 20;

/**
 * The bar's text after `elapsedMs` of the run: "label [####----] ~40% | 1200 executions |
 * 800 exec/s | 2 findings | ETA ~1m05s". The fraction and the time left appear only once the
 * estimate is above zero.
 */
export function progressLine(p: RunProgress, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(p.executions / seconds) : 0;
  const counts = `${p.executions} executions | ${rate} exec/s | ${p.findings} finding${p.findings === 1 ? "" : "s"}`;
  const explored = Math.min(1, Math.max(0, p.explored));
  if (!(explored > 0)) return `${p.label} | ${counts}`;
  const filled = Math.round(explored * BAR_WIDTH);
  const bar = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
  const percent = explored * 100;
  const shown = percent < 10 ? percent.toFixed(1) : percent.toFixed(0);
  const eta =
    explored < 1 ? ` | ETA ~${formatDuration((seconds * (1 - explored)) / explored)}` : "";
  return `${p.label} ${bar} ~${shown}% explored | ${counts}${eta}`;
}

export class ProgressReporter {
  private bar: cliProgress.SingleBar | null = null;
  private started = 0;

  constructor(private readonly enabled: boolean) {}

  /** Starts the clock of a run (the bar appears after half a second of it). */
  start(): void {
    this.started = performance.now();
  }

  update(p: RunProgress): void {
    if (!this.enabled) return;
    const elapsedMs = performance.now() - this.started;
    if (this.bar === null) {
      if (elapsedMs < 500) return;
      this.bar = new cliProgress.SingleBar(
        {
          format: (_options, _params, payload: { line: string }) => payload.line,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(1, 0, { line: "" });
    }
    this.bar.update(0, { line: progressLine(p, elapsedMs) });
  }

  /** Clears the bar so that a report can be printed; the next update draws it again. */
  pause(): void {
    this.bar?.stop();
    this.bar = null;
  }

  stop(): void {
    this.pause();
  }
}
