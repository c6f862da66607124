// The entry of one worker thread of the check pool (pool.ts loads it after arming the thread's
// exit flag). It loads each scenario from the text the main thread sends (as the main thread
// did), runs the units it is handed with runUnit, and posts back progress and each UnitResult
// as plain data. After every message it bumps the shared counter the main thread waits on.

import { workerData } from "node:worker_threads";
import { runUnit } from "../scenarios/check.js";
import { loadScenario } from "../scenarios/loader.js";
import type { Scenario } from "../scenarios/scenario.js";
import type { FromWorker, ToWorker, WorkerData } from "./pool.js";

const { port, signal } = workerData as WorkerData;

function post(message: FromWorker): void {
  port.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

type Job = Extract<ToWorker, { type: "job" }> & { readonly scenario: Scenario };
const jobs = new Map<number, Job>();

port.on("message", (message: ToWorker) => {
  try {
    if (message.type === "job") {
      jobs.set(message.job, { ...message, scenario: loadScenario(message.text, message.file) });
      return;
    }
    const job = jobs.get(message.job);
    if (job === undefined) throw new Error(`a unit of job ${message.job}, which was never sent`);
    const { item, deadline } = message;
    const result = runUnit(
      job.scenario,
      job.plan,
      message.unit,
      {
        ...job.options,
        // Wall-clock time, as the main thread computed the deadline (pool.ts wallClockMs).
        shouldStop: () => performance.timeOrigin + performance.now() > deadline,
        onProgress: (progress) => post({ type: "progress", item, progress }),
      },
      message.budget,
    );
    post({ type: "done", item, result });
  } catch (error) {
    post({
      type: "error",
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
});
