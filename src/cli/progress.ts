// A progress bar for long checks (cli-progress), on stderr and only on a terminal: executions
// so far, executions per second and findings. Quiet until a check has run for half a second.

import cliProgress from "cli-progress";

export class ProgressReporter {
  private bar: cliProgress.SingleBar | null = null;
  private name = "";
  private started = 0;
  private last = 0;

  constructor(private readonly enabled: boolean) {}

  start(name: string): void {
    this.name = name;
    this.started = performance.now();
    this.last = this.started;
  }

  update(executions: number, findings: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (this.bar === null) {
      if (now - this.started < 500) return;
      this.bar = new cliProgress.SingleBar(
        {
          format: `${this.name} | {value} executions | {rate} exec/s | {findings} findings`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(0, 0, { rate: 0, findings: 0 });
    }
    const rate = Math.round(executions / ((now - this.started) / 1000));
    this.last = now;
    this.bar.update(executions, { rate, findings });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
