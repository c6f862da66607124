// Running the work units of a `faultline check` (check/units.ts): one after another in this
// thread, or on a pool of worker threads (`--workers N`). A work item is one unit of one
// scenario of the run; items are handed out in file and unit order to whichever worker is idle,
// and each scenario's results are passed on, in file order, as soon as all of its units are in.
// A unit does the same wherever it runs, so the merged result of a scenario never depends on
// the number of workers.
//
// The pool is synchronous, so that `runCli` stays a plain function: the main thread blocks in
// Atomics.wait on a shared counter that a worker bumps after each message it posts, and reads
// the messages with receiveMessageOnPort. Nothing here needs the main thread's event loop.
//
// Workers run compiled JavaScript (worker.js next to this file in dist/). From the TypeScript
// sources (the tests) there is no worker.js, and a check runs in this thread.

import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
} from "node:worker_threads";
import type { Progress } from "../check/explore.js";
import type { WorkUnit } from "../check/units.js";
import {
  type CheckOptions,
  type CheckPlan,
  runUnit,
  type UnitResult,
  unitBudget,
} from "../scenarios/check.js";
import type { Scenario } from "../scenarios/scenario.js";
import type { RunProgress } from "./progress.js";

/** The options of a check that a worker needs: plain data, no callbacks. */
export type UnitOptions = Omit<
  CheckOptions,
  "shouldStop" | "onProgress" | "makeProtocol" | "shard"
>;

/** One scenario of a run, planned, with the units this run (or shard) is to run. */
export interface CheckJob {
  readonly file: string;
  /** The scenario file's text: a worker loads the scenario from it, as this thread did. */
  readonly text: string;
  readonly scenario: Scenario;
  readonly options: UnitOptions;
  readonly plan: CheckPlan;
  readonly units: readonly WorkUnit[];
}

export interface PoolOptions {
  /** Worker threads; 1 runs every unit in this thread. */
  readonly workers: number;
  /** Time each scenario may take, from the start of its first unit; its later units stop at once. */
  readonly timeLimitMs?: number;
  /** Prefixed to the progress label ("shard 2/4"). */
  readonly label?: string;
  readonly onProgress?: (progress: RunProgress) => void;
  /** Called once per job, in job order, with its units' results sorted by unit. */
  readonly onJobDone: (job: number, results: readonly UnitResult[], elapsedMs: number) => void;
}

/** Messages from the main thread to a worker. */
export type ToWorker =
  | {
      readonly type: "job";
      readonly job: number;
      readonly file: string;
      readonly text: string;
      readonly options: UnitOptions;
      readonly plan: CheckPlan;
    }
  | {
      readonly type: "unit";
      readonly item: number;
      readonly job: number;
      readonly unit: WorkUnit;
      readonly budget: number;
      /** Wall-clock deadline (ms since the epoch, see wallClockMs), or Infinity. */
      readonly deadline: number;
    };

/** Messages from a worker to the main thread. */
export type FromWorker =
  | { readonly type: "progress"; readonly item: number; readonly progress: Progress }
  | { readonly type: "done"; readonly item: number; readonly result: UnitResult }
  | { readonly type: "error"; readonly message: string };

/** What a worker gets at start. */
export interface WorkerData {
  readonly port: MessagePort;
  /** [0]: bumped after every message a worker posts; [1 + slot]: set when worker `slot` exits. */
  readonly signal: Int32Array;
  readonly slot: number;
  /** The URL of worker.js. */
  readonly script: string;
}

/**
 * Milliseconds since the epoch, at performance.now()'s resolution. Each thread has its own
 * performance.timeOrigin, so deadlines cross threads in this form.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The default of --workers: the parallelism the machine offers. */
export function defaultWorkers(): number {
  return availableParallelism();
}

const WORKER_SCRIPT = new URL("./worker.js", import.meta.url);

/**
 * What a worker thread runs first: it arms the exit flag and then loads worker.js, so that a
 * worker that dies, or cannot even load its script, is noticed instead of waited for.
 */
const BOOTSTRAP = `
const { workerData } = require("node:worker_threads");
const { port, signal, slot, script } = workerData;
const bump = () => { Atomics.add(signal, 0, 1); Atomics.notify(signal, 0); };
process.on("exit", () => { Atomics.store(signal, 1 + slot, 1); bump(); });
import(script).catch((error) => {
  port.postMessage({ type: "error", message: "cannot load " + script + ": " + ((error && error.stack) || error) });
  bump();
});
`;

/** Whether worker threads can be started: the compiled worker script exists. */
export function workersAvailable(): boolean {
  return WORKER_SCRIPT.protocol === "file:" && existsSync(fileURLToPath(WORKER_SCRIPT));
}

interface Item {
  readonly job: number;
  readonly unit: WorkUnit;
}

/** The bookkeeping of a run: results per job, progress per item, jobs released in order. */
class RunState {
  readonly items: Item[] = [];
  private readonly results: UnitResult[][];
  private readonly remaining: number[];
  private readonly startedAt: Array<number | undefined>;
  /** Wall time from a job's first unit starting to its last unit ending. */
  private readonly elapsedMs: number[];
  private readonly deadlines: Array<number | undefined>;
  private readonly live = new Map<number, Progress>();
  private doneExecutions = 0;
  private doneFindings = 0;
  private doneItems = 0;
  private released = 0;

  constructor(
    private readonly jobs: readonly CheckJob[],
    private readonly options: PoolOptions,
  ) {
    jobs.forEach((j, job) => {
      for (const unit of j.units) this.items.push({ job, unit });
    });
    this.results = jobs.map(() => []);
    this.remaining = jobs.map((j) => j.units.length);
    this.startedAt = jobs.map(() => undefined);
    this.elapsedMs = jobs.map(() => 0);
    this.deadlines = jobs.map(() => undefined);
  }

  get pending(): number {
    return this.items.length - this.doneItems;
  }

  /** The deadline of a job's units; its clock starts when its first unit does. */
  deadline(job: number): number {
    let deadline = this.deadlines[job];
    if (deadline === undefined) {
      const now = wallClockMs();
      this.startedAt[job] = now;
      deadline =
        this.options.timeLimitMs === undefined
          ? Number.POSITIVE_INFINITY
          : now + this.options.timeLimitMs;
      this.deadlines[job] = deadline;
    }
    return deadline;
  }

  progress(item: number, p: Progress): void {
    this.live.set(item, p);
    this.report();
  }

  done(item: number, result: UnitResult): void {
    const { job } = this.items[item]!;
    this.live.delete(item);
    this.doneItems++;
    this.doneExecutions += result.executions;
    this.doneFindings += result.findings.length;
    this.results[job]!.push(result);
    if (--this.remaining[job]! === 0) {
      // Taken now, not when the job is released: a job waits for those before it in file
      // order, and that wait is not its time.
      const started = this.startedAt[job];
      this.elapsedMs[job] = started === undefined ? 0 : wallClockMs() - started;
    }
    this.release();
    this.report();
  }

  /** Passes on every job, in order, whose units are all in. */
  release(): void {
    while (this.released < this.jobs.length && this.remaining[this.released] === 0) {
      const job = this.released++;
      const results = this.results[job]!.sort((a, b) => a.unit - b.unit);
      this.options.onJobDone(job, results, this.elapsedMs[job]!);
    }
  }

  report(): void {
    const onProgress = this.options.onProgress;
    if (onProgress === undefined) return;
    let executions = this.doneExecutions;
    let findings = this.doneFindings;
    let explored = this.doneItems;
    for (const p of this.live.values()) {
      executions += p.executions;
      findings += p.findings;
      explored += Math.min(1, Math.max(0, p.explored));
    }
    const current = this.jobs[Math.min(this.released, this.jobs.length - 1)];
    const name = current?.scenario.name ?? "";
    const where =
      this.jobs.length > 1
        ? `${name} (${Math.min(this.released + 1, this.jobs.length)}/${this.jobs.length})`
        : name;
    const label = this.options.label === undefined ? where : `${this.options.label}: ${where}`;
    onProgress({
      executions,
      findings,
      explored: this.items.length === 0 ? 1 : explored / this.items.length,
      label,
    });
  }
}

/**
 * Runs every job's units, on `options.workers` threads when there is more than one item to
 * share and the compiled worker script exists, in this thread otherwise.
 */
export function runJobs(jobs: readonly CheckJob[], options: PoolOptions): void {
  const state = new RunState(jobs, options);
  state.release();
  const workers = Math.min(options.workers, state.items.length);
  if (workers > 1 && workersAvailable()) runOnWorkers(jobs, state, workers);
  else runHere(jobs, state);
}

function runHere(jobs: readonly CheckJob[], state: RunState): void {
  state.items.forEach(({ job, unit }, item) => {
    const j = jobs[job]!;
    const deadline = state.deadline(job);
    const result = runUnit(
      j.scenario,
      j.plan,
      unit,
      {
        ...j.options,
        shouldStop: () => wallClockMs() > deadline,
        onProgress: (p) => state.progress(item, p),
      },
      unitBudget(j.plan, unit),
    );
    state.done(item, result);
  });
}

interface PoolWorker {
  readonly slot: number;
  readonly worker: Worker;
  readonly port: MessagePort;
  /** Jobs whose scenario this worker has been sent. */
  readonly known: Set<number>;
  /** The item it is running, or -1. */
  busy: number;
}

function runOnWorkers(jobs: readonly CheckJob[], state: RunState, count: number): void {
  const signal = new Int32Array(new SharedArrayBuffer(4 * (1 + count)));
  const pool: PoolWorker[] = [];
  let next = 0;
  const dispatch = (w: PoolWorker): void => {
    if (next >= state.items.length) return;
    const item = next++;
    const { job, unit } = state.items[item]!;
    const j = jobs[job]!;
    if (!w.known.has(job)) {
      const message: ToWorker = {
        type: "job",
        job,
        file: j.file,
        text: j.text,
        options: j.options,
        plan: j.plan,
      };
      w.port.postMessage(message);
      w.known.add(job);
    }
    const message: ToWorker = {
      type: "unit",
      item,
      job,
      unit,
      budget: unitBudget(j.plan, unit),
      deadline: state.deadline(job),
    };
    w.port.postMessage(message);
    w.busy = item;
  };
  try {
    for (let slot = 0; slot < count; slot++) {
      const { port1, port2 } = new MessageChannel();
      const data: WorkerData = { port: port2, signal, slot, script: WORKER_SCRIPT.href };
      const worker = new Worker(BOOTSTRAP, {
        eval: true,
        workerData: data,
        transferList: [port2],
      });
      // The pool never waits for the event loop; a worker must not keep the process alive.
      worker.unref();
      pool.push({ slot, worker, port: port1, known: new Set(), busy: -1 });
    }
    for (const w of pool) dispatch(w);
    while (state.pending > 0) {
      const seen = Atomics.load(signal, 0);
      let received = false;
      for (const w of pool) {
        for (;;) {
          const packet = receiveMessageOnPort(w.port);
          if (packet === undefined) break;
          received = true;
          const message = packet.message as FromWorker;
          switch (message.type) {
            case "progress":
              state.progress(message.item, message.progress);
              break;
            case "done":
              w.busy = -1;
              state.done(message.item, message.result);
              dispatch(w);
              break;
            case "error":
              throw new Error(`worker thread ${w.slot}: ${message.message}`);
          }
        }
        if (w.busy >= 0 && Atomics.load(signal, 1 + w.slot) !== 0) {
          const { job, unit } = state.items[w.busy]!;
          throw new Error(
            `worker thread ${w.slot} exited while checking unit ${unit.index} of ${jobs[job]!.file}`,
          );
        }
      }
      // A quiet second still moves the bar's clock, rate and time left.
      if (!received && Atomics.wait(signal, 0, seen, 1000) === "timed-out") state.report();
    }
  } finally {
    for (const w of pool) {
      w.port.close();
      void w.worker.terminate();
    }
  }
}
