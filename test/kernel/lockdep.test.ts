import { describe, expect, it } from "vitest";
import { dma_resv_init, dma_resv_lock, dma_resv_unlock } from "../../src/kernel/dma_resv.js";
import { create_process } from "../../src/kernel/fork.js";
import { CLASS, lockClass } from "../../src/kernel/lockdep.js";
import {
  mmap_read_lock,
  mmap_read_unlock,
  mmap_write_lock,
  mmap_write_unlock,
} from "../../src/kernel/mm_types.js";
import {
  mutex,
  mutex_lock,
  mutex_lock_nested,
  mutex_trylock,
  mutex_unlock,
} from "../../src/kernel/mutex.js";
import {
  down_read,
  down_write,
  down_write_nest_lock,
  rw_semaphore,
  up_read,
  up_write,
} from "../../src/kernel/rwsem.js";
import { Directed, NonPreemptive } from "../../src/kernel/schedulers.js";
import { msleep } from "../../src/kernel/wait.js";
import { boot, run } from "./helpers.js";

describe("lockdep", () => {
  it("reports an ABBA order without the deadlock happening", () => {
    const k = boot({ primeLockdep: false });
    const a = new mutex(k, "A", lockClass("lock_A"));
    const b = new mutex(k, "B", lockClass("lock_B"));
    k.kthread("T1", function* () {
      yield* mutex_lock(a, "t1_take_a");
      yield* mutex_lock(b, "t1_take_b");
      yield* mutex_unlock(b, "t1_drop_b");
      yield* mutex_unlock(a, "t1_drop_a");
    });
    k.kthread("T2", function* () {
      yield* mutex_lock(b, "t2_take_b");
      yield* mutex_lock(a, "t2_take_a");
      yield* mutex_unlock(a, "t2_drop_a");
      yield* mutex_unlock(b, "t2_drop_b");
    });
    // T1 runs to completion first: no deadlock can happen in this schedule.
    expect(run(k, new NonPreemptive())).toEqual({ kind: "done" });
    expect(k.reports).toHaveLength(1);
    const report = k.reports[0]!;
    expect(report.kind).toBe("lockdep");
    expect(report.headline).toBe("possible circular locking dependency detected");
    const text = report.text;
    expect(text).toContain("WARNING: possible circular locking dependency detected");
    expect(text).toMatch(
      /T2\/\d+ is trying to acquire lock:\n {2}\(lock_A\)\{\+\.\+\.\}, at: t2_take_a/,
    );
    expect(text).toContain("but task is already holding lock:\n  (lock_B){+.+.}, at: t2_take_b");
    expect(text).toContain("which lock already depends on the new lock.");
    // The existing edge A -> B with the site where B was taken and where A had been taken.
    expect(text).toContain("-> #1 (lock_B):\n       t1_take_b");
    expect(text).toContain("(taken while holding lock_A, acquired at t1_take_a)");
    expect(text).toContain("-> #0 (lock_A):\n       t2_take_a");
    expect(text).toContain(" Possible unsafe locking scenario:");
    expect(text).toMatch(
      / {2}lock\(lock_B\);\s+\n {33}lock\(lock_A\);\n {33}lock\(lock_B\);\n {2}lock\(lock_A\);/,
    );
    expect(text).toContain(" *** DEADLOCK ***");
    expect(text).toMatch(/1 lock held by T2\/\d+:\n #0: \(lock_B\)\{\+\.\+\.\}, at: t2_take_b/);
  });

  it("a trylock adds no edge into the lock it takes", () => {
    const k = boot({ primeLockdep: false });
    const a = new mutex(k, "A", lockClass("try_A"));
    const b = new mutex(k, "B", lockClass("try_B"));
    k.kthread("T1", function* () {
      yield* mutex_lock(a, "t1_a");
      yield* mutex_trylock(b, "t1_try_b");
      yield* mutex_unlock(b, "t1_drop_b");
      yield* mutex_unlock(a, "t1_drop_a");
    });
    k.kthread("T2", function* () {
      yield* mutex_lock(b, "t2_b");
      yield* mutex_lock(a, "t2_a");
      yield* mutex_unlock(a, "t2_drop_a");
      yield* mutex_unlock(b, "t2_drop_b");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(k.lockdep.hasEdge(a.lockClass, b.lockClass)).toBe(false);
    expect(k.lockdep.hasEdge(b.lockClass, a.lockClass)).toBe(true);
    expect(k.reports).toEqual([]);
  });

  it("a trylocked lock still gets outgoing edges", () => {
    const k = boot({ primeLockdep: false });
    const a = new mutex(k, "A", lockClass("out_A"));
    const b = new mutex(k, "B", lockClass("out_B"));
    k.kthread("T", function* () {
      yield* mutex_trylock(a, "try_a");
      yield* mutex_lock(b, "then_b");
      yield* mutex_unlock(b, "drop_b");
      yield* mutex_unlock(a, "drop_a");
    });
    run(k);
    expect(k.lockdep.hasEdge(a.lockClass, b.lockClass)).toBe(true);
  });

  it("rwsem read, then a waiting writer, then read again deadlocks, and lockdep says so first", () => {
    const k = boot({ primeLockdep: false });
    const sem = new rw_semaphore(k, "sem", lockClass("test_rwsem"));
    k.kthread("reader", function* () {
      yield* down_read(sem, "first_read");
      yield* msleep(k, 1, "between");
      yield* down_read(sem, "second_read");
      yield* up_read(sem, "up2");
      yield* up_read(sem, "up1");
    });
    k.kthread("writer", function* () {
      yield* down_write(sem, "write");
      yield* up_write(sem, "up_w");
    });
    const outcome = run(
      k,
      new Directed([{ task: "reader", until: "between" }, "writer", "writer"]),
    );
    expect(outcome.kind).toBe("deadlock");
    if (outcome.kind === "deadlock") {
      expect(outcome.cycle.map((t) => t.name).sort()).toEqual(["reader", "writer"]);
    }
    expect(k.reports[0]?.headline).toBe("possible recursive locking detected");
    expect(k.reports[0]?.text).toContain("May be due to missing lock nesting notation");
  });

  it("nesting annotations make same-class nesting legal", () => {
    const k = boot({ primeLockdep: false });
    const cls = lockClass("nest_rwsem");
    const all = new mutex(k, "all_locks", lockClass("all_locks_mutex"));
    const sems = [
      new rw_semaphore(k, "s1", cls),
      new rw_semaphore(k, "s2", cls),
      new rw_semaphore(k, "s3", cls),
    ];
    const m1 = new mutex(k, "m1", lockClass("nested_mutex"));
    const m2 = new mutex(k, "m2", lockClass("nested_mutex"));
    k.kthread("T", function* () {
      yield* mutex_lock(all, "take_all");
      for (const s of sems) yield* down_write_nest_lock(s, all, "nest");
      for (const s of sems) yield* up_write(s, "unnest");
      yield* mutex_unlock(all, "drop_all");
      yield* mutex_lock(m1, "outer");
      yield* mutex_lock_nested(m2, "inner", 1);
      yield* mutex_unlock(m2, "inner_done");
      yield* mutex_unlock(m1, "outer_done");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(k.reports).toEqual([]);
  });

  it("is primed at boot with mmap_lock -> dma_resv -> i_mmap -> PTL", () => {
    const k = boot();
    const ld = k.lockdep;
    expect(ld.hasEdge(CLASS.mmap_lock, CLASS.reservation_ww_class_acquire)).toBe(true);
    expect(ld.hasEdge(CLASS.reservation_ww_class_acquire, CLASS.reservation_ww_class_mutex)).toBe(
      true,
    );
    expect(ld.hasEdge(CLASS.reservation_ww_class_mutex, CLASS.fs_reclaim)).toBe(true);
    expect(ld.hasEdge(CLASS.fs_reclaim, CLASS.i_mmap_rwsem)).toBe(true);
    expect(ld.hasEdge(CLASS.i_mmap_rwsem, CLASS.page_table_lock)).toBe(true);
    expect(k.reports).toEqual([]);
  });

  it("taking mmap_lock while holding a reservation is reported on first use, thanks to the priming", () => {
    const k = boot();
    const proc = create_process(k, "P");
    const resv = dma_resv_init(k, "bo");
    k.kthread("ioctl", function* () {
      yield* dma_resv_lock(resv, null, "ioctl_reserve");
      yield* mmap_read_lock(proc.mm, "ioctl_gup");
      yield* mmap_read_unlock(proc.mm, "ioctl_gup_done");
      yield* dma_resv_unlock(resv, "ioctl_unreserve");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(k.reports).toHaveLength(1);
    const text = k.reports[0]!.text;
    expect(text).toContain("WARNING: possible circular locking dependency detected");
    expect(text).toContain("is trying to acquire lock:\n  (&mm->mmap_lock){++++}, at: ioctl_gup");
    expect(text).toContain(
      "but task is already holding lock:\n  (reservation_ww_class_mutex){+.+.}, at: ioctl_reserve",
    );
    expect(text).toContain("dma_resv_lockdep");
  });

  it("mmap_lock of two processes taken without annotation is possible recursive locking", () => {
    const k = boot();
    const p1 = create_process(k, "P1");
    const p2 = create_process(k, "P2");
    k.kthread("mover", function* () {
      yield* mmap_write_lock(p1.mm, "lock_p1");
      yield* mmap_write_lock(p2.mm, "lock_p2");
      yield* mmap_write_unlock(p2.mm, "unlock_p2");
      yield* mmap_write_unlock(p1.mm, "unlock_p1");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(k.reports.map((r) => r.headline)).toEqual(["possible recursive locking detected"]);
  });
});
