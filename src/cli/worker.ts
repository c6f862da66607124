// The entry of one worker thread of the check pool (pool.ts). It loads each scenario from the
// text the main thread sends (as the main thread did), runs the units it is handed with
// runUnit, and posts back progress and each UnitResult as plain data. After every message it
// bumps the shared counter the main thread waits on.
//
// The check modules are imported dynamically, after the exit flag is set up, so that a worker
// that cannot load them reports why instead of leaving the main thread waiting.

import { workerData } from "node:worker_threads";
import type { FromWorker, ToWorker, WorkerData } from "./pool.js";

const { port, signal, slot } = workerData as WorkerData;

function post(message: FromWorker): void {
  port.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

process.on("exit", () => {
  Atomics.store(signal, 1 + slot, 1);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
});

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

try {
  const { runUnit } = await import("../scenarios/check.js");
  const { loadScenario } = await import("../scenarios/loader.js");
  type Job = Extract<ToWorker, { type: "job" }>;
  const jobs = new Map<number, Job & { scenario: ReturnType<typeof loadScenario> }>();
  port.on("message", (message: ToWorker) => {
    try {
      if (message.type === "job") {
        jobs.set(message.job, { ...message, scenario: loadScenario(message.text, message.file) });
        return;
      }
      const job = jobs.get(message.job);
      if (job === undefined) throw new Error(`unit of unknown job ${message.job}`);
      const { item, deadline } = message;
      const result = runUnit(
        job.scenario,
        job.plan,
        message.unit,
        {
          ...job.options,
          shouldStop: () => performance.timeOrigin + performance.now() > deadline,
          onProgress: (progress) => post({ type: "progress", item, progress }),
        },
        message.budget,
      );
      post({ type: "done", item, result });
    } catch (error) {
      post({ type: "error", message: describe(error) });
    }
  });
} catch (error) {
  post({ type: "error", message: `cannot load the checker: ${describe(error)}` });
}
