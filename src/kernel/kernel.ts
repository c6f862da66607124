// The simulated kernel of one execution: the engine, lockdep, the PRNG, physical memory, the
// processes and the device address spaces, created fresh for every schedule the checker tries.
// Nothing here reads the environment: the seed and the options are passed in.

import type { Site, SpanKind } from "../trace/index.js";
import { dma_resv_lockdep } from "./dma_resv.js";
import { Lockdep, type LockdepReport } from "./lockdep.js";
import { type MemoryConfig, PhysMem } from "./physmem.js";
import { Prng } from "./prng.js";
import { type Gen, Sched, type Task, type TaskKind } from "./sched.js";

/** How to build a kernel. */
export interface KernelOptions {
  /** Record trace events; on for replay, off for exploration. */
  readonly trace?: boolean;
  /** Seed of the kernel's PRNG (used only by code that models a random choice). */
  readonly seed?: number;
  readonly memory?: Partial<MemoryConfig>;
  /** Run lockdep's boot-time priming of the mm/dma_resv lock order (default true). */
  readonly primeLockdep?: boolean;
  readonly mm?: Partial<MmConfig>;
}

/** Choices between kernel versions of the mm. */
export interface MmConfig {
  /**
   * do_no_page() compares mapping->truncate_count before installing the page (2.6.x, true).
   * Off shows what the check protects against (litmus L7).
   */
  readonly truncateCheck: boolean;
  /**
   * The 2.6 mm (true): mapping->truncate_count exists, and unmap_mapping_range() bumps it under
   * the exclusive i_mmap_lock. The 6.x mm (false): no truncate_count (it went with ->nopage),
   * and unmap_mapping_pages() holds i_mmap_rwsem only for read, so unmaps of one file run side
   * by side. Modern TTM runs on the 6.x mm; the 2006 designs on the 2.6 one.
   */
  readonly truncateCount: boolean;
}

/**
 * Something the kernel reports and keeps running after: a lockdep splat or a WARN. The checker
 * turns lockdep reports into `lock-order` findings and warnings into `kernel-bug` findings.
 */
export interface KernelReport {
  readonly kind: "lockdep" | "warn";
  readonly headline: string;
  readonly text: string;
  readonly step: number;
  readonly task: number;
  readonly site: Site;
}

/** Observers watch the kernel and never change it (checkers, statistics). */
export interface KernelObserver {
  /** Called for every report as it is made. */
  onReport?(k: Kernel, report: KernelReport): void;
}

export class Kernel {
  readonly sched: Sched;
  readonly lockdep: Lockdep;
  readonly prng: Prng;
  readonly mem: PhysMem;
  readonly mmConfig: MmConfig;
  readonly reports: KernelReport[] = [];
  readonly observers: KernelObserver[] = [];
  /** Stamp counter of the ww_mutex classes (ww_class->stamp), per boot. */
  nextWwStamp = 1;

  constructor(options: KernelOptions = {}) {
    this.sched = new Sched({ trace: options.trace ?? false });
    this.prng = new Prng(options.seed ?? 0);
    this.lockdep = new Lockdep(
      () => this.sched.stepIndex,
      (report) => this.onLockdepReport(report),
    );
    this.mem = new PhysMem(this, options.memory ?? {});
    this.mmConfig = {
      truncateCheck: options.mm?.truncateCheck ?? true,
      truncateCount: options.mm?.truncateCount ?? true,
    };
    if (options.primeLockdep ?? true) dma_resv_lockdep(this);
  }

  /** The task running the current step. */
  get current(): Task {
    return this.sched.cur;
  }

  /** Whether trace events are being recorded. */
  get tracing(): boolean {
    return this.sched.trace !== null;
  }

  /** A fresh id for a kernel object. */
  newId(): number {
    return this.sched.allocId();
  }

  /** Starts a kernel thread (kthread_run). */
  kthread(name: string, body: (task: Task) => Gen, daemon = false): Task {
    return this.spawnTask(name, "kernel", daemon, body);
  }

  /** Low-level spawn used by kthread, user threads and the GPU engine. */
  spawnTask(
    name: string,
    kind: TaskKind,
    daemon: boolean,
    body: (task: Task) => Gen,
    process?: string,
  ): Task {
    return this.sched.spawn(name, kind, daemon, body, process);
  }

  /**
   * Opens a span of the trace (a system call, a fault, a move, a GPU job) in the current task,
   * or in `task` when the caller runs outside a step's task context.
   */
  spanBegin(
    span: SpanKind,
    name: string,
    detail: string | undefined,
    site: Site,
    task?: Task,
  ): void {
    const trace = this.sched.trace;
    if (!trace) return;
    const base = {
      type: "span-begin",
      step: this.sched.stepIndex,
      task: (task ?? this.current).id,
      site,
      span,
      name,
    } as const;
    trace.push(detail === undefined ? base : { ...base, detail });
  }

  /** Closes a span: `result` is an errno name, a VM_FAULT_* code or "0". */
  spanEnd(span: SpanKind, name: string, result: string, site: Site, task?: Task): void {
    const trace = this.sched.trace;
    if (!trace) return;
    trace.push({
      type: "span-end",
      step: this.sched.stepIndex,
      task: (task ?? this.current).id,
      site,
      span,
      name,
      result,
    });
  }

  /** printk: a line in the trace. */
  printk(site: Site, text: string): void {
    const trace = this.sched.trace;
    if (trace) {
      const task = this.sched.current;
      trace.push({
        type: "note",
        step: this.sched.stepIndex,
        task: task ? task.id : 0,
        site,
        text,
      });
    }
  }

  /**
   * WARN(): reports a broken expectation and goes on, as the kernel does. The checker reports it
   * as a `kernel-bug` finding.
   */
  warn(site: Site, message: string): void {
    const task = this.sched.current;
    const text = [
      "------------[ cut here ]------------",
      `WARNING: at ${site}: ${message}`,
      task ? `CPU: 0 PID: ${task.id} Comm: ${task.name}` : "CPU: 0 PID: 0 Comm: swapper",
      "---[ end trace ]---",
    ].join("\n");
    this.addReport({
      kind: "warn",
      headline: message,
      text,
      step: this.sched.stepIndex,
      task: task ? task.id : 0,
      site,
    });
  }

  private onLockdepReport(report: LockdepReport): void {
    this.addReport({
      kind: "lockdep",
      headline: report.headline,
      text: report.text,
      step: report.step,
      task: report.task,
      site: "lockdep",
    });
  }

  private addReport(report: KernelReport): void {
    this.reports.push(report);
    this.printk(report.site, report.headline);
    for (const observer of this.observers) observer.onReport?.(this, report);
  }
}
