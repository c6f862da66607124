// One execution of a scenario: a fresh simulated kernel with the scenario's memory, the
// protocol's driver, the initial processes and buffers, the setup ops run to completion by one
// task, then one task per thread running its ops, watched by the read-only checkers.
//
// The checkers (checkers.md §4.11, DESIGN.md "Findings"):
// - at every user access (and copy_from_user): the frame reached must be owned by the mapped
//   buffer (else `isolation-breach`) and be the frame that holds that buffer page now (else
//   `stale-mapping`); a load must return the last value written to that buffer word (else
//   `lost-write`), and the value the scenario expects (else `assertion`);
// - GPU and kernel accesses are attributed to the frame's owner and checked the same way;
// - at the end: every live buffer word is verified against the shadow copy (`lost-write`),
//   finished tasks still holding locks and frames owned by destroyed buffers are `leak`s;
// - the kernel's own reports: lockdep (`lock-order`), WARN and BUG (`kernel-bug`), and the
//   engine's deadlock detection (`deadlock`).

import type { ExecutionRun, Harness } from "../check/explore.js";
import type { Finding } from "../check/finding.js";
import { dma_fence } from "../kernel/dma_fence.js";
import { errnoName } from "../kernel/errno.js";
import { do_exit_mm } from "../kernel/exit.js";
import { create_process, do_fork, type Process, spawn_user_thread } from "../kernel/fork.js";
import { Kernel } from "../kernel/kernel.js";
import { vm_area_struct } from "../kernel/mm_types.js";
import { do_mmap, do_munmap } from "../kernel/mmap.js";
import { mutex } from "../kernel/mutex.js";
import type { FrameAccess } from "../kernel/physmem.js";
import { rw_semaphore } from "../kernel/rwsem.js";
import type { Gen, KObject, RunOutcome, Sched, Scheduler, Task } from "../kernel/sched.js";
import { NonPreemptive } from "../kernel/schedulers.js";
import { spinlock_t } from "../kernel/spinlock.js";
import { userAccess } from "../kernel/uaccess.js";
import { ww_mutex } from "../kernel/ww_mutex.js";
import {
  createProtocol,
  type Protocol,
  protocolKernelOptions,
  type Reservation,
} from "../protocols/index.js";
import type { ttm_buffer_object } from "../ttm/ttm_bo.js";
import { TTM_TT_FLAG_SWAPPED } from "../ttm/ttm_tt.js";
import type { Op, Scenario, SetupOp, ThreadSpec } from "./scenario.js";

/** How a system builds the protocol its scenario names. */
export type ProtocolFactory = (k: Kernel, config: Scenario["protocol"]) => Protocol;

/** A mapping the scenario named with `as`. */
interface Mapping {
  readonly vma: vm_area_struct;
  readonly process: Process;
  readonly buffer: string;
}

/** The first occurrence of each kind of finding in one execution is enough. */
class FindingLog {
  readonly findings: Finding[] = [];
  private readonly kinds = new Set<string>();

  constructor(private readonly sched: Sched) {}

  add(finding: Finding): void {
    if (this.kinds.has(finding.kind)) return;
    this.kinds.add(finding.kind);
    this.findings.push(finding);
    const trace = this.sched.trace;
    if (trace) {
      const task = this.sched.current;
      trace.push({
        type: "finding",
        step: Math.max(finding.step, this.sched.stepIndex),
        task: task === null ? 0 : task.id,
        site: "checker",
        kind: finding.kind,
        message: finding.message,
      });
    }
  }
}

/** The world of one execution. */
export class ScenarioSystem {
  readonly k: Kernel;
  readonly protocol: Protocol;
  readonly buffers = new Map<string, ttm_buffer_object>();
  readonly destroyed = new Set<string>();
  readonly processes = new Map<string, Process>();
  readonly mappings = new Map<string, Mapping>();
  /** The last value written to each buffer word: shadow[buffer][page][word]. */
  readonly shadow = new Map<string, number[][]>();
  readonly log: FindingLog;
  private readonly reservations = new Map<Task, Reservation>();
  /** What went wrong while the setup ops ran; a scenario whose setup fails is not checked. */
  readonly setupErrors: string[] = [];
  private inSetup = true;
  /**
   * The scenario's names (buffers, mappings, processes) as shared state: an op that defines or
   * drops a name writes it, every other op reads it, so that exploration orders them.
   */
  private readonly registry: KObject;

  constructor(
    readonly scenario: Scenario,
    trace: boolean,
    makeProtocol: ProtocolFactory = createProtocol,
  ) {
    const config = scenario.protocol;
    const kopts = protocolKernelOptions(config);
    this.k = new Kernel({
      trace,
      seed: 0,
      memory: {
        ...scenario.memory,
        wordsPerPage: scenario.wordsPerPage,
        sparsemem: kopts.sparsemem,
      },
      ...(kopts.mm === undefined ? {} : { mm: kopts.mm }),
    });
    this.log = new FindingLog(this.k.sched);
    this.registry = { id: this.k.newId(), name: "scenario_names" };
    this.protocol = makeProtocol(this.k, config);
    this.k.mem.accessObservers.push({ onAccess: (k, a) => this.onAccess(k, a) });
    this.k.observers.push({
      onReport: (_k, report) =>
        this.log.add({
          kind: report.kind === "lockdep" ? "lock-order" : "kernel-bug",
          message:
            report.kind === "lockdep"
              ? `lockdep: ${report.headline}`
              : `WARNING: ${report.headline} at ${report.site}`,
          step: report.step,
          report: report.text,
        }),
    });
    for (const name of scenario.processes) this.processes.set(name, create_process(this.k, name));
  }

  get sched(): Sched {
    return this.k.sched;
  }

  /** Creates the initial buffers and runs the setup ops, alone and to completion. */
  setup(maxSteps: number): RunOutcome {
    const scenario = this.scenario;
    this.k.kthread("setup", () => this.setupBody(scenario.setup));
    const outcome = this.k.sched.run(new NonPreemptive(), maxSteps);
    this.inSetup = false;
    if (outcome.kind !== "done") this.setupErrors.push(`it ended with ${outcome.kind}`);
    return outcome;
  }

  private *setupBody(ops: readonly SetupOp[]): Gen {
    for (const b of this.scenario.buffers)
      yield* this.createBuffer(b.name, b.pages, b.placement, b.pinned);
    for (const op of ops) {
      const proc = op.process === undefined ? null : this.processOf(op.process);
      yield* this.runOp(op, proc);
    }
  }

  /** Starts one task per thread whose process exists now (forked children start at their fork). */
  startThreads(): void {
    for (const thread of this.scenario.threads) {
      if (thread.process === undefined || this.processes.has(thread.process))
        this.startThread(thread);
    }
  }

  private startThread(thread: ThreadSpec): void {
    const body = () => this.threadBody(thread);
    if (thread.process === undefined) this.k.kthread(thread.name, body);
    else spawn_user_thread(this.k, this.processOf(thread.process), thread.name, body);
  }

  private *threadBody(thread: ThreadSpec): Gen {
    const proc = thread.process === undefined ? null : this.processOf(thread.process);
    for (const op of thread.ops) yield* this.runOp(op, proc);
  }

  private processOf(name: string): Process {
    let proc = this.processes.get(name);
    if (proc === undefined) {
      proc = create_process(this.k, name);
      this.processes.set(name, proc);
    }
    return proc;
  }

  private note(text: string): void {
    if (this.inSetup) this.setupErrors.push(text);
    this.k.printk("scenario", text);
  }

  private *createBuffer(
    name: string,
    pages: number,
    placement: "system" | "tt" | "vram",
    pinned: boolean,
  ): Gen {
    const bo = yield* this.protocol.create(name, pages, placement, pinned);
    if (typeof bo === "number") {
      this.note(`create ${name}: ${errnoName(bo)}`);
      return;
    }
    this.buffers.set(name, bo);
    this.shadow.set(
      name,
      Array.from({ length: pages }, () => new Array<number>(this.scenario.wordsPerPage).fill(0)),
    );
  }

  /** The buffer named `name`, or null (with a note) when it does not exist (yet, or any more). */
  private bufferOf(name: string, op: string): ttm_buffer_object | null {
    const bo = this.buffers.get(name);
    if (bo === undefined || this.destroyed.has(name)) {
      this.note(`${op} ${name}: no such buffer now (-ENOENT)`);
      return null;
    }
    return bo;
  }

  private reservationOf(task: Task): Reservation {
    let r = this.reservations.get(task);
    if (r === undefined) {
      r = { ticket: null, held: [] };
      this.reservations.set(task, r);
    }
    return r;
  }

  /** Runs one op as the kernel would run that system call or driver path. */
  private *runOp(op: Op, proc: Process | null): Gen {
    const k = this.k;
    const p = this.protocol;
    const result = (ret: number): void => {
      if (ret < 0) this.note(`${op.op}: ${errnoName(ret)}`);
    };
    const defines =
      op.op === "create" ||
      op.op === "mmap" ||
      op.op === "fork" ||
      op.op === "destroy" ||
      op.op === "munmap" ||
      op.op === "exit";
    yield {
      op: defines ? "write" : "read",
      obj: this.registry,
      site: `op_${op.op.replace(/-/g, "_")}`,
    };
    switch (op.op) {
      case "mmap": {
        const bo = this.bufferOf(op.buffer, "mmap");
        if (bo === null || proc === null) return;
        const vma = yield* do_mmap(
          proc.mm,
          p.drm.filp,
          p.drm.mmapOffset(bo),
          bo.base.size / 4096,
          op.as,
        );
        if (vma instanceof vm_area_struct) {
          this.mappings.set(op.as, { vma, process: proc, buffer: op.buffer });
          this.traceMapping(op.as, vma, op.buffer);
        } else result(vma);
        return;
      }
      case "munmap": {
        const m = this.mappings.get(op.map);
        if (m === undefined || proc === null) return this.note(`munmap ${op.map}: no such mapping`);
        const ret = yield* do_munmap(proc.mm, m.vma);
        if (ret === 0) this.traceMapping(op.map, m.vma, m.buffer, true);
        result(ret);
        return;
      }
      case "store":
      case "load": {
        const m = this.mappings.get(op.map);
        if (m === undefined || proc === null)
          return this.note(`${op.op} ${op.map}: no such mapping`);
        const vpn = m.vma.vm_start + op.page;
        const access =
          op.op === "store"
            ? ({ kind: "store", value: op.value } as const)
            : ({ kind: "load" } as const);
        this.pendingExpect =
          op.op === "load" && op.expect !== undefined
            ? { value: op.expect, map: op.map, page: op.page, word: op.word }
            : null;
        const r = yield* userAccess(k, proc.mm, vpn, op.word, access, "user", `user_${op.op}`);
        this.pendingExpect = null;
        if (!r.ok) this.note(`${op.op} ${op.map}[${op.page}]: ${r.signal}`);
        return;
      }
      case "fork": {
        if (proc === null) return;
        const child = yield* do_fork(k, proc, op.child);
        this.processes.set(op.child, child);
        for (const m of [...this.mappings.entries()]) {
          const [label, mapping] = m;
          if (mapping.process !== proc) continue;
          const copy = child.mm.vmas.find((v) => v.label === `${label}@${op.child}`);
          if (copy !== undefined) {
            this.mappings.set(copy.label, { vma: copy, process: child, buffer: mapping.buffer });
            this.traceMapping(copy.label, copy, mapping.buffer);
          }
        }
        for (const thread of this.scenario.threads)
          if (thread.process === op.child) this.startThread(thread);
        return;
      }
      case "exit":
        if (proc !== null) yield* do_exit_mm(proc);
        return;
      case "read-into": {
        const m = this.mappings.get(op.map);
        const bo = this.bufferOf(op.buffer, "read-into");
        if (m === undefined || bo === null || proc === null) return;
        result(yield* p.readInto(proc.mm, m.vma.vm_start + op.page, bo, op.bufferPage));
        return;
      }
      case "create":
        yield* this.createBuffer(op.buffer, op.pages, op.placement, false);
        return;
      case "move": {
        const bo = this.bufferOf(op.buffer, "move");
        if (bo !== null) result(yield* p.move(bo, op.to));
        return;
      }
      case "evict": {
        const bo = this.bufferOf(op.buffer, "evict");
        if (bo !== null) result(yield* p.evict(bo));
        return;
      }
      case "swapout": {
        const bo = this.bufferOf(op.buffer, "swapout");
        if (bo !== null) result(yield* p.swapout(bo));
        return;
      }
      case "destroy": {
        const bo = this.bufferOf(op.buffer, "destroy");
        if (bo === null) return;
        this.destroyed.add(op.buffer);
        result(yield* p.destroy(bo));
        return;
      }
      case "gpu-write":
      case "gpu-read": {
        const bo = this.bufferOf(op.buffer, op.op);
        if (bo === null) return;
        const write = op.op === "gpu-write" ? { value: op.value } : null;
        result(yield* p.gpuAccess(bo, op.page, op.word, write));
        return;
      }
      case "wait-idle": {
        const bo = this.bufferOf(op.buffer, "wait-idle");
        if (bo !== null) result(yield* p.waitIdle(bo));
        return;
      }
      case "kernel-write":
      case "kernel-read": {
        const bo = this.bufferOf(op.buffer, op.op);
        if (bo === null) return;
        const write = op.op === "kernel-write" ? { value: op.value } : null;
        result((yield* p.kernelAccess(bo, op.page, op.word, write)).ret);
        return;
      }
      case "reserve": {
        const bos = op.buffers.map((b) => this.bufferOf(b, "reserve"));
        if (bos.some((b) => b === null)) return;
        result(
          yield* p.reserve(bos as ttm_buffer_object[], op.ticket, this.reservationOf(k.current)),
        );
        return;
      }
      case "unreserve": {
        const bos = op.buffers
          .map((b) => this.buffers.get(b))
          .filter((b): b is ttm_buffer_object => b !== undefined);
        result(yield* p.unreserve(bos, this.reservationOf(k.current)));
        return;
      }
    }
  }

  /** Records which virtual pages of which mm show which buffer, for the viewer. */
  private traceMapping(map: string, vma: vm_area_struct, buffer: string, gone = false): void {
    const trace = this.k.sched.trace;
    if (!trace) return;
    const task = this.k.sched.current;
    trace.push({
      type: "mapping",
      step: this.k.sched.stepIndex,
      task: task === null ? 0 : task.id,
      site: gone ? "do_munmap" : "do_mmap",
      map,
      mm: vma.vm_mm.name,
      buffer,
      vpn: vma.vm_start,
      pages: gone ? 0 : vma.pageCount,
    });
  }

  /** The `expect` of the load being executed, checked by the access observer. */
  private pendingExpect: { value: number; map: string; page: number; word: number } | null = null;

  private onAccess(k: Kernel, a: FrameAccess): void {
    const step = k.sched.stepIndex;
    const vma = a.user?.vma;
    if (a.user !== undefined && vma instanceof vm_area_struct && vma.vm_private_data !== null) {
      const bo = vma.vm_private_data as ttm_buffer_object;
      const page = this.protocol.pageIndex(bo, vma, a.user.vpn);
      // The verdict depends on where the buffer lives now: order this access against moves.
      k.sched.touch(bo.where, false);
      if (bo.ttm !== null) k.sched.touch(bo.ttm, false);
      const where = `${a.via === "user" ? "user" : "copy_from_user"} ${a.kind} of ${bo.name}[${page}] word ${a.word} through ${vma.label} (${a.user.mm} vpn 0x${a.user.vpn.toString(16)}, pfn 0x${a.pfn.toString(16)})`;
      const owner = a.frame?.owner ?? null;
      if (a.frame === null) {
        // An unbound aperture slot or an unclaimed bus address: the GART's scratch page at worst.
        this.log.add({
          kind: "stale-mapping",
          message: `${where} reaches no memory: the mapping is stale`,
          step,
        });
      } else if (owner === null || owner.name !== bo.name) {
        const whose = owner === null ? "a free frame" : `a frame of ${owner.name}`;
        this.log.add({ kind: "isolation-breach", message: `${where} reaches ${whose}`, step });
      } else if (a.frame !== this.protocol.currentFrame(bo, page)) {
        this.log.add({
          kind: "stale-mapping",
          message: `${where} goes to an old copy of the page; the buffer is now in ${this.placementName(bo)}`,
          step,
        });
      }
      this.checkWord(bo.name, page, a, step, where);
      const expect = this.pendingExpect;
      if (a.kind === "load" && a.via === "user" && expect !== null && a.value !== expect.value) {
        this.log.add({
          kind: "assertion",
          message: `load ${expect.map}[${expect.page}] word ${expect.word} returned ${a.value}, the scenario expects ${expect.value}`,
          step,
        });
      }
      return;
    }
    // A GPU job acts on the memory of whoever owned the frame when it was queued: the ring
    // runs it before the copy of a pipelined eviction that freed the frame, and before the next
    // owner's move into it, which waits for the eviction fence.
    const owner = a.queuedOwner !== undefined ? a.queuedOwner : (a.frame?.owner ?? null);
    const where = `${a.via} ${a.kind} at pfn 0x${a.pfn.toString(16)} word ${a.word}`;
    if (owner === null) {
      this.log.add({
        kind: "isolation-breach",
        message:
          a.frame === null
            ? `${where} reaches no memory`
            : a.queuedOwner === null
              ? `${where} was queued against a free frame`
              : `${where} reaches a free frame`,
        step,
      });
      return;
    }
    if (this.shadow.has(owner.name))
      this.checkWord(owner.name, owner.index, a, step, `${where} (${owner.name}[${owner.index}])`);
  }

  /** Keeps the shadow copy on stores, compares it on loads. */
  private checkWord(
    buffer: string,
    page: number,
    a: FrameAccess,
    step: number,
    where: string,
  ): void {
    const words = this.shadow.get(buffer)?.[page];
    if (words === undefined) return;
    if (a.kind === "store") {
      words[a.word] = a.value;
      return;
    }
    const expected = words[a.word]!;
    if (a.value !== expected) {
      this.log.add({
        kind: "lost-write",
        message: `${where} returned ${a.value}, but the last value written there was ${expected}`,
        step,
      });
    }
  }

  private placementName(bo: ttm_buffer_object): string {
    const res = bo.resource;
    return res === null
      ? "no placement"
      : res.mem_type === 0
        ? "system"
        : res.mem_type === 1
          ? "tt"
          : "vram";
  }

  /** The findings of the whole execution, given how the run ended. */
  findings(outcome: RunOutcome): Finding[] {
    switch (outcome.kind) {
      case "deadlock":
        this.log.add(deadlockFinding(this.k, outcome));
        break;
      case "bug":
        this.log.add({
          kind: "kernel-bug",
          message: `${outcome.bug.message} (in ${outcome.task.name})`,
          step: this.k.sched.stepIndex,
          report: bugReport(this.k, outcome.task, outcome.bug.message, outcome.bug.site),
        });
        break;
      case "done":
        this.verifyBuffers();
        this.checkLeaks();
        break;
      default:
        break;
    }
    return this.log.findings;
  }

  /** Final verification: every word of every live buffer holds the last value written to it. */
  private verifyBuffers(): void {
    for (const [name, bo] of this.buffers) {
      if (this.destroyed.has(name)) continue;
      const shadow = this.shadow.get(name)!;
      shadow.forEach((words, page) => {
        const actual = this.currentWords(bo, page);
        if (actual === null) return;
        words.forEach((expected, w) => {
          if (actual[w] !== expected) {
            this.log.add({
              kind: "lost-write",
              message: `final verification: ${name}[${page}] word ${w} holds ${actual[w]}, but the last value written there was ${expected}`,
              step: -1,
            });
          }
        });
      });
    }
  }

  /** The words of a buffer page where they live now (its frame, or its swap storage). */
  private currentWords(bo: ttm_buffer_object, page: number): readonly number[] | null {
    const tt = bo.ttm;
    if (tt !== null && tt.page_flags & TTM_TT_FLAG_SWAPPED) return tt.swap_storage?.[page] ?? null;
    return this.protocol.currentFrame(bo, page)?.words ?? null;
  }

  private checkLeaks(): void {
    for (const task of this.k.sched.tasks) {
      if (task.state !== "done" || task.heldLocks.length === 0) continue;
      const locks = task.heldLocks
        .map((h) => `${h.lock.name} (${h.cls.name}, taken at ${h.site})`)
        .join(", ");
      this.log.add({
        kind: "leak",
        message: `${task.name} finished still holding ${locks}`,
        step: -1,
      });
      return;
    }
    const gone = new Set([...this.destroyed].filter((name) => this.buffers.get(name)!.kref === 0));
    for (const frame of [...this.k.mem.system, ...this.k.mem.vram]) {
      const owner = frame.owner;
      if (owner !== null && gone.has(owner.name)) {
        this.log.add({
          kind: "leak",
          message: `${frame.name} still belongs to ${owner.name}, which was destroyed and released`,
          step: -1,
        });
        return;
      }
    }
  }
}

/**
 * The hung-task report of a deadlock, laid out as kernel/hung_task.c prints it with lockdep on:
 * for each task stuck in D state, "INFO: task NAME:PID blocked for more than 120 seconds.", the
 * sysctl hint, the task line and its call trace; the blocker line that names the lock's likely
 * owner; then lockdep's "Showing all locks held in the system:" and the closing rule. The call
 * trace shows the sleeping primitive's usual slow path above the model's site (the one real
 * frame; there are no offsets). Idle daemons (a worker or the GPU engine waiting for work that
 * nobody holds) sleep interruptibly in the kernel and are not reported, as there. The last line
 * is faultline's own: the wait-for cycle.
 */
function deadlockFinding(k: Kernel, outcome: Extract<RunOutcome, { kind: "deadlock" }>): Finding {
  const cycle = outcome.cycle;
  const label = (t: Task): string => `${t.name}:${t.id}`;
  const stuck = outcome.waits.filter((w) => !(w.task.daemon && w.holders.length === 0));
  const reported = stuck.length > 0 ? stuck : outcome.waits;
  const lines: string[] = [];
  for (const w of reported) {
    const on = w.on;
    const mode =
      on instanceof rw_semaphore ? on.waiters.find((x) => x.task === w.task)?.mode : undefined;
    const primitive =
      on instanceof ww_mutex
        ? {
            what: "a mutex",
            frames: ["schedule_preempt_disabled", "__ww_mutex_lock", "ww_mutex_lock"],
          }
        : on instanceof mutex
          ? { what: "a mutex", frames: ["schedule_preempt_disabled", "__mutex_lock", "mutex_lock"] }
          : on instanceof rw_semaphore
            ? {
                what: "an rw-semaphore",
                frames:
                  mode === "read"
                    ? ["rwsem_down_read_slowpath", "down_read"]
                    : ["rwsem_down_write_slowpath", "down_write"],
              }
            : on instanceof spinlock_t
              ? { what: "a spinlock", frames: ["queued_spin_lock_slowpath", "_raw_spin_lock"] }
              : on instanceof dma_fence
                ? { what: "a fence", frames: ["dma_fence_default_wait", "dma_fence_wait_timeout"] }
                : { what: "a wait queue", frames: [] };
    const owners = on.holders();
    const queuedBehind = w.holders.filter((t) => !owners.includes(t));
    lines.push(
      `INFO: task ${label(w.task)} blocked for more than 120 seconds.`,
      `"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.`,
      `task:${w.task.name.padEnd(15)} state:D pid:${w.task.id}`,
      "Call Trace:",
      " <TASK>",
      ...["__schedule", "schedule", ...primitive.frames, w.site].map((f) => ` ${f}`),
      " </TASK>",
    );
    if (owners.length > 0)
      lines.push(
        `INFO: task ${label(w.task)} is blocked on ${primitive.what} (${on.name}) likely owned by task ${owners.map(label).join(", task ")}.`,
      );
    if (queuedBehind.length > 0)
      lines.push(
        `INFO: task ${label(w.task)} is queued on ${on.name} behind task ${queuedBehind.map(label).join(", task ")}.`,
      );
    if (w.holders.length === 0)
      lines.push(
        `INFO: task ${label(w.task)} waits for ${on.name}, which no task holds or will signal.`,
      );
  }
  const holding = k.sched.tasks.filter((t) => t.heldLocks.length > 0);
  lines.push("", "Showing all locks held in the system:");
  for (const t of holding) lines.push(...k.lockdep.heldLocksText(t));
  lines.push("", "=============================================");
  if (cycle.length > 0)
    lines.push("", `wait-for cycle: ${[...cycle, cycle[0]!].map((t) => t.name).join(" -> ")}`);
  const message =
    cycle.length > 0
      ? `deadlock: ${cycle.map((t) => `${t.name} waits for ${t.blockedOn?.name}`).join(", ")}`
      : `deadlock: ${outcome.waits.map((w) => `${w.task.name} waits for ${w.on.name}`).join(", ")}, and no task can wake them`;
  return { kind: "deadlock", message, step: k.sched.stepIndex, report: lines.join("\n") };
}

/** The oops-style report of a BUG. */
function bugReport(k: Kernel, task: Task, message: string, site: string): string {
  return [
    "------------[ cut here ]------------",
    `kernel BUG at ${site}!`,
    message,
    `CPU: 0 PID: ${task.id} Comm: ${task.name}`,
    ...k.lockdep.heldLocksText(task),
    "---[ end trace ]---",
  ].join("\n");
}

/** The scenario's setup (initial buffers and setup ops) did not run cleanly: an input error. */
export class ScenarioSetupError extends Error {
  override readonly name = "ScenarioSetupError";
}

/** Runs scenarios for the explorer: one fresh system per execution. */
export class ScenarioHarness implements Harness {
  /** The system of the last execution run, for reports. */
  last: ScenarioSystem | null = null;

  constructor(
    readonly scenario: Scenario,
    /** Builds the protocol; tests pass deliberately broken variants here. */
    private readonly makeProtocol: ProtocolFactory = createProtocol,
  ) {}

  run(
    scheduler: Scheduler,
    options: { readonly trace: boolean; readonly maxSteps: number },
  ): ExecutionRun {
    const system = new ScenarioSystem(this.scenario, options.trace, this.makeProtocol);
    this.last = system;
    system.setup(options.maxSteps);
    if (system.setupErrors.length > 0) {
      throw new ScenarioSetupError(
        `${this.scenario.source.file}: setup failed: ${system.setupErrors.join("; ")}`,
      );
    }
    system.startThreads();
    const outcome = system.sched.run(scheduler, options.maxSteps);
    return { sched: system.sched, outcome, findings: system.findings(outcome) };
  }
}
