// lockdep: the runtime lock-order validator (kernel/locking/lockdep.c,
// Documentation/locking/lockdep-design.rst), as a passive checker on every execution.
//
// What it keeps: lock classes (one per lock kind and init site, e.g. "&mm->mmap_lock"), one
// stack of held locks per task, and a dependency graph between classes whose edges remember the
// sites and the step where they were first seen. On each blocking acquisition it checks recursion
// and adds edges from the locks held; a new edge that closes a cycle along a "strong" path is a
// possible deadlock and is reported in the kernel's splat layout.
//
// Faithful rules: a trylock adds no edge into the lock it takes (it cannot block) but its held
// entry gets outgoing edges; edges are added from the held stack top down, stopping after the
// first non-trylock entry; read acquisitions of an rwsem are non-recursive reads (a waiting
// writer can block them) and recursive reads only conflict across "strong" paths; nest_lock and
// subclass annotations silence legitimate same-class nesting. Like the kernel, lockdep reports
// the first problem of a boot and then turns itself off.
//
// Left out: irq/softirq usage states, the chain-hash cache (the graph is per execution and small),
// lock_set_cmp_fn, lock pinning and lock statistics.

import type { Site, TaskId } from "../trace/index.js";
import type { Task } from "./sched.js";

/** 0 = exclusive (W), 1 = shared non-recursive (r, rwsem readers), 2 = shared recursive (R). */
export type LockdepRead = 0 | 1 | 2;

/** A lock class: all locks initialised at one site share it (e.g. every mm's mmap_lock). */
export class LockClass {
  private readonly subclasses: LockClass[] = [];

  constructor(
    readonly key: number,
    /** The name lockdep prints, e.g. "&mm->mmap_lock". */
    readonly name: string,
    readonly subclass = 0,
    readonly base: LockClass | null = null,
  ) {}

  /** The class of the same locks taken with a nesting subclass (mutex_lock_nested). */
  sub(subclass: number): LockClass {
    if (subclass === 0) return this.base ?? this;
    const root = this.base ?? this;
    let cls = root.subclasses[subclass];
    if (cls === undefined) {
      cls = new LockClass(root.key * 8 + subclass, `${root.name}/${subclass}`, subclass, root);
      root.subclasses[subclass] = cls;
    }
    return cls;
  }
}

/** A lock instance as lockdep sees it (its dep_map). */
export interface LockdepMap {
  readonly name: string;
  readonly lockClass: LockClass;
}

/** One entry of a task's held-lock stack (struct held_lock). */
export interface HeldLock {
  readonly lock: LockdepMap;
  readonly cls: LockClass;
  readonly read: LockdepRead;
  readonly trylock: boolean;
  readonly site: Site;
  readonly step: number;
  readonly nestLock: LockdepMap | null;
  /** How many acquisitions this entry stands for (more than one once folded under a nest_lock). */
  references: number;
  /** Set once another lock of the class was folded in; it then matches any lock of its class. */
  folded: boolean;
}

/** Where an edge prev -> next was first seen. */
export interface DepEdge {
  readonly from: LockClass;
  readonly to: LockClass;
  /** Bit set of EN, ER, SN, SR: how prev was held and how next was taken. */
  types: number;
  readonly task: TaskId;
  readonly taskName: string;
  /** Where `to` was acquired while `from` was held. */
  readonly toSite: Site;
  /** Where `from` had been acquired. */
  readonly fromSite: Site;
  readonly step: number;
}

const EN = 1; // prev held exclusively, next taken non-recursively
const ER = 2; // prev held exclusively, next taken as a recursive read
const SN = 4; // prev held shared, next taken non-recursively
const SR = 8; // prev held shared, next taken as a recursive read

/** A lockdep report, ready to print. `kind` distinguishes the kernel's headlines. */
export interface LockdepReport {
  readonly kind: "circular" | "recursive" | "bad-unlock";
  readonly headline: string;
  /** The whole splat, lines joined by "\n". */
  readonly text: string;
  readonly step: number;
  readonly task: TaskId;
}

/** The classes the kernel primes at boot, shared by every execution. */
export const LOCKDEP_CLASSES = new Map<string, LockClass>();

let nextClassKey = 1;

/** The class for `name`, created on first use. Names follow the kernel's lockdep names. */
export function lockClass(name: string): LockClass {
  let cls = LOCKDEP_CLASSES.get(name);
  if (cls === undefined) {
    cls = new LockClass(nextClassKey++, name);
    LOCKDEP_CLASSES.set(name, cls);
  }
  return cls;
}

/** Lock classes of the core kernel, named as lockdep names them. */
export const CLASS = {
  mmap_lock: lockClass("&mm->mmap_lock"),
  i_mmap_rwsem: lockClass("&mapping->i_mmap_rwsem"),
  page_table_lock: lockClass("&mm->page_table_lock"),
  fs_reclaim: lockClass("fs_reclaim"),
  mmu_notifier: lockClass("mmu_notifier_invalidate_range_start"),
  reservation_ww_class_acquire: lockClass("reservation_ww_class_acquire"),
  reservation_ww_class_mutex: lockClass("reservation_ww_class_mutex"),
} satisfies Record<string, LockClass>;

/** Per-execution lockdep state. */
export class Lockdep {
  /** Outgoing edges of each class. */
  private readonly graph = new Map<LockClass, Map<LockClass, DepEdge>>();
  /** The first report of this execution, if any (lockdep turns itself off after it). */
  report: LockdepReport | null = null;
  /** Set to false by the first report, as debug_locks_off() does. */
  debugLocks = true;

  constructor(
    private readonly now: () => number,
    private readonly onReport: (report: LockdepReport) => void,
  ) {}

  /** Number of edges recorded; for tests and statistics. */
  get edgeCount(): number {
    let n = 0;
    for (const out of this.graph.values()) n += out.size;
    return n;
  }

  /** Whether the graph has an edge from `from` to `to`. */
  hasEdge(from: LockClass, to: LockClass): boolean {
    return this.graph.get(from)?.has(to) ?? false;
  }

  /**
   * lock_acquire(): records that `task` takes `lock` (before it blocks on it, so a deadlock is
   * reported before it happens). A trylock is recorded only once it has succeeded.
   */
  acquire(
    task: Task,
    lock: LockdepMap,
    opts: {
      subclass?: number;
      read?: LockdepRead;
      trylock?: boolean;
      nestLock?: LockdepMap | null;
      site: Site;
    },
  ): void {
    const cls = lock.lockClass.sub(opts.subclass ?? 0);
    const read = opts.read ?? 0;
    const trylock = opts.trylock ?? false;
    const nestLock = opts.nestLock ?? null;
    const held = task.heldLocks;
    const top = held[held.length - 1];
    // Same class on top of the stack under a nest_lock: fold it in (held_lock->references).
    if (nestLock !== null && top !== undefined && top.cls === cls) {
      top.references++;
      top.folded = true;
      return;
    }
    const next: HeldLock = {
      lock,
      cls,
      read,
      trylock,
      site: opts.site,
      step: this.now(),
      nestLock,
      references: 1,
      folded: false,
    };
    if (this.debugLocks && !trylock) {
      const verdict = this.checkDeadlock(task, next);
      if (verdict === "report") {
        held.push(next);
        return;
      }
      if (verdict === "ok") this.checkPrevsAdd(task, next);
    }
    held.push(next);
  }

  /** lock_release(): removes `lock` from the task's stack (any position, as the kernel allows). */
  release(task: Task, lock: LockdepMap, site: Site): void {
    const held = task.heldLocks;
    for (let i = held.length - 1; i >= 0; i--) {
      const entry = held[i]!;
      // A folded entry stands for every lock of its class taken under its nest_lock.
      if (entry.lock !== lock && !(entry.folded && entry.cls === lock.lockClass)) continue;
      if (entry.references > 1) entry.references--;
      else held.splice(i, 1);
      return;
    }
    if (!this.debugLocks) return;
    this.emit({
      kind: "bad-unlock",
      headline: "WARNING: bad unlock balance detected!",
      text: [
        "=====================================",
        "WARNING: bad unlock balance detected!",
        "-------------------------------------",
        `${taskLabel(task)} is trying to release lock (${lock.lockClass.name}) at:`,
        `  ${site}`,
        "but there are no more locks to release!",
        "",
        "other info that might help us debug this:",
        ...this.heldLocksText(task),
      ].join("\n"),
      step: this.now(),
      task: task.id,
    });
  }

  /**
   * might_lock(): validates an acquisition that may happen (copy_from_user may fault and take
   * mmap_lock) without taking the lock, as __might_fault() does.
   */
  mightLock(task: Task, lock: LockdepMap, read: LockdepRead, site: Site): void {
    this.acquire(task, lock, { read, site });
    this.release(task, lock, site);
  }

  /** The held locks of `task`, formatted as lockdep's "N locks held by task" paragraph. */
  heldLocksText(task: Task): string[] {
    const held = task.heldLocks;
    if (held.length === 0) return [`no locks held by ${taskLabel(task)}.`];
    const lines = [
      `${held.length} lock${held.length === 1 ? "" : "s"} held by ${taskLabel(task)}:`,
    ];
    held.forEach((h, i) => {
      lines.push(` #${i}: (${h.cls.name}){${usage(h)}}, at: ${h.site}  [step ${h.step}]`);
    });
    return lines;
  }

  /** check_deadlock(): same-class recursion. "nested" means a nest_lock makes it legal. */
  private checkDeadlock(task: Task, next: HeldLock): "ok" | "nested" | "report" {
    let nest: HeldLock | null = null;
    for (const prev of task.heldLocks) {
      if (next.nestLock !== null && prev.lock === next.nestLock) nest = prev;
      if (prev.cls !== next.cls) continue;
      // Read-after-read recursion of the same class is allowed for recursive readers.
      if (next.read === 2 && prev.read !== 0) continue;
      if (nest !== null) return "nested";
      this.emit(this.recursiveReport(task, prev, next));
      return "report";
    }
    return "ok";
  }

  /** check_prevs_add(): an edge from each held lock, top down, up to the first non-trylock. */
  private checkPrevsAdd(task: Task, next: HeldLock): void {
    const held = task.heldLocks;
    for (let i = held.length - 1; i >= 0; i--) {
      const prev = held[i]!;
      if (!this.checkPrevAdd(task, prev, next)) return;
      if (!prev.trylock) break;
    }
  }

  /** check_prev_add(): reports a cycle or records the edge prev -> next. False after a report. */
  private checkPrevAdd(task: Task, prev: HeldLock, next: HeldLock): boolean {
    if (prev.cls === next.cls) return true; // nested same-class entries add no self edge
    const path = this.findStrongPath(next, prev);
    if (path !== null) {
      this.emit(this.circularReport(task, prev, next, path));
      return false;
    }
    const type = prev.read === 0 ? (next.read === 2 ? ER : EN) : next.read === 2 ? SR : SN;
    let out = this.graph.get(prev.cls);
    if (out === undefined) {
      out = new Map();
      this.graph.set(prev.cls, out);
    }
    const edge = out.get(next.cls);
    if (edge !== undefined) {
      edge.types |= type;
      return true;
    }
    out.set(next.cls, {
      from: prev.cls,
      to: next.cls,
      types: type,
      task: task.id,
      taskName: task.name,
      toSite: next.site,
      fromSite: prev.site,
      step: next.step,
    });
    return true;
  }

  /**
   * Breadth-first search for a strong path from next's class to prev's class (check_noncircular).
   * A path is strong when no edge that ends in a recursive read is followed by one that starts
   * from a shared hold. Returns the edges of the path, or null.
   */
  private findStrongPath(next: HeldLock, prev: HeldLock): DepEdge[] | null {
    interface Node {
      cls: LockClass;
      viaRecursive: boolean;
      edge: DepEdge | null;
      parent: Node | null;
    }
    const seen = new Set<string>();
    const queue: Node[] = [
      { cls: next.cls, viaRecursive: next.read === 2, edge: null, parent: null },
    ];
    for (let qi = 0; qi < queue.length; qi++) {
      const node = queue[qi]!;
      const out = this.graph.get(node.cls);
      if (out === undefined) continue;
      for (const edge of out.values()) {
        const allowed = node.viaRecursive ? edge.types & (EN | ER) : edge.types;
        if (allowed === 0) continue;
        const viaRecursive = (allowed & (EN | SN)) === 0;
        const child: Node = { cls: edge.to, viaRecursive, edge, parent: node };
        // Found A -> .. -> B where B -> A would be a real conflict (hlock_conflict()).
        if (edge.to === prev.cls && (prev.read === 0 || !viaRecursive)) {
          const path: DepEdge[] = [];
          for (let n: Node | null = child; n !== null && n.edge !== null; n = n.parent)
            path.unshift(n.edge);
          return path;
        }
        const key = `${edge.to.key}:${viaRecursive ? 1 : 0}`;
        if (seen.has(key)) continue;
        seen.add(key);
        queue.push(child);
      }
    }
    return null;
  }

  private emit(report: LockdepReport): void {
    this.report = report;
    this.debugLocks = false;
    this.onReport(report);
  }

  private recursiveReport(task: Task, prev: HeldLock, next: HeldLock): LockdepReport {
    const text = [
      "============================================",
      "WARNING: possible recursive locking detected",
      "--------------------------------------------",
      `${taskLabel(task)} is trying to acquire lock:`,
      `  (${next.cls.name}){${usage(next)}}, at: ${next.site}  [step ${next.step}]`,
      "",
      "but task is already holding lock:",
      `  (${prev.cls.name}){${usage(prev)}}, at: ${prev.site}  [step ${prev.step}]`,
      "",
      "other info that might help us debug this:",
      " Possible unsafe locking scenario:",
      "",
      "       CPU0",
      "       ----",
      `  lock(${prev.cls.name});`,
      `  lock(${next.cls.name});`,
      "",
      " *** DEADLOCK ***",
      "",
      " May be due to missing lock nesting notation",
      "",
      ...this.heldLocksText(task),
    ].join("\n");
    return {
      kind: "recursive",
      headline: "possible recursive locking detected",
      text,
      step: next.step,
      task: task.id,
    };
  }

  private circularReport(
    task: Task,
    prev: HeldLock,
    next: HeldLock,
    path: readonly DepEdge[],
  ): LockdepReport {
    const lines = [
      "======================================================",
      "WARNING: possible circular locking dependency detected",
      "------------------------------------------------------",
      `${taskLabel(task)} is trying to acquire lock:`,
      `  (${next.cls.name}){${usage(next)}}, at: ${next.site}  [step ${next.step}]`,
      "",
      "but task is already holding lock:",
      `  (${prev.cls.name}){${usage(prev)}}, at: ${prev.site}  [step ${prev.step}]`,
      "",
      "which lock already depends on the new lock.",
      "",
      "",
      "the existing dependency chain (in reverse order) is:",
    ];
    // path runs next -> ... -> prev; the kernel prints it from prev back to next, then the new edge.
    for (let i = path.length - 1; i >= 0; i--) {
      const edge = path[i]!;
      lines.push(
        "",
        `-> #${i + 1} (${edge.to.name}):`,
        `       ${edge.toSite}  [step ${edge.step}, ${edge.taskName}/${edge.task}]`,
        `       (taken while holding ${edge.from.name}, acquired at ${edge.fromSite})`,
      );
    }
    lines.push(
      "",
      `-> #0 (${next.cls.name}):`,
      `       ${next.site}  [step ${next.step}, ${taskLabel(task)}]`,
      `       (taken while holding ${prev.cls.name}, acquired at ${prev.site})`,
      "",
      "other info that might help us debug this:",
      "",
    );
    if (path.length > 1) {
      const chain = [next.cls.name, ...path.map((e) => e.to.name)];
      lines.push("Chain exists of:", `  ${chain.join(" --> ")}`, "");
    }
    // The kernel's two-column scenario: CPU0 holds prev and wants next; CPU1 went down the
    // existing chain, holding the class just before prev, and now wants prev.
    const held = prev.cls.name;
    const parent = path[path.length - 1]!.from.name;
    const col = (s: string): string => s.padEnd(31);
    lines.push(
      " Possible unsafe locking scenario:",
      "",
      `       ${col("CPU0")}CPU1`,
      `       ${col("----")}----`,
      `  ${col(`lock(${held});`)}`,
      `  ${col("")}lock(${parent});`,
      `  ${col("")}lock(${held});`,
      `  ${col(`lock(${next.cls.name});`)}`,
      "",
      " *** DEADLOCK ***",
      "",
      ...this.heldLocksText(task),
    );
    return {
      kind: "circular",
      headline: "possible circular locking dependency detected",
      text: lines.join("\n"),
      step: next.step,
      task: task.id,
    };
  }
}

function taskLabel(task: Task): string {
  return `${task.name}/${task.id}`;
}

/** The usage braces lockdep prints: "+.+." for exclusive, "++++" for shared holds. */
function usage(h: HeldLock): string {
  return h.read === 0 ? "+.+." : "++++";
}
