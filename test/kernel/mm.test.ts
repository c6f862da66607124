import { describe, expect, it } from "vitest";
import { EBUSY } from "../../src/kernel/errno.js";
import { do_exit_mm } from "../../src/kernel/exit.js";
import { create_process, do_fork, spawn_user_thread } from "../../src/kernel/fork.js";
import { i_mmap_lock_read } from "../../src/kernel/fs.js";
import { lockClass } from "../../src/kernel/lockdep.js";
import { io_remap_pfn_range, unmap_mapping_range, vm_insert_pfn } from "../../src/kernel/memory.js";
import {
  mmap_read_lock,
  mmap_read_unlock,
  VM_PFNMAP,
  vm_area_struct,
} from "../../src/kernel/mm_types.js";
import { do_mmap, do_munmap } from "../../src/kernel/mmap.js";
import { mutex, mutex_lock, mutex_unlock } from "../../src/kernel/mutex.js";
import type { Gen } from "../../src/kernel/sched.js";
import { Directed } from "../../src/kernel/schedulers.js";
import { copy_from_user, userAccess } from "../../src/kernel/uaccess.js";
import { FakeDevice } from "./fake_driver.js";
import { boot, eventsOf, run } from "./helpers.js";

function* mapIt(
  dev: FakeDevice,
  mm: import("../../src/kernel/mm_types.js").mm_struct,
  pgoff: number,
  label: string,
): Gen<vm_area_struct> {
  const vma = yield* do_mmap(mm, dev.filp, pgoff, 1, label);
  if (!(vma instanceof vm_area_struct)) throw new Error(`mmap failed: ${vma}`);
  return vma;
}

describe("mm: faults and mappings", () => {
  it("a user store faults once, then a load reads it back through the PTE", () => {
    const k = boot();
    const dev = new FakeDevice(k, "nopage");
    const obj = dev.create("X");
    const proc = create_process(k, "P");
    const values: number[] = [];
    spawn_user_thread(k, proc, "T", function* () {
      const vma = yield* mapIt(dev, proc.mm, 0, "m");
      const st = yield* userAccess(
        k,
        proc.mm,
        vma.vm_start,
        0,
        { kind: "store", value: 7 },
        "user",
        "user_store",
      );
      const ld = yield* userAccess(
        k,
        proc.mm,
        vma.vm_start,
        0,
        { kind: "load" },
        "user",
        "user_load",
      );
      if (st.ok && ld.ok) values.push(ld.value);
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(values).toEqual([7]);
    expect(obj.page.frame.words[0]).toBe(7);
    expect(obj.nopageCalls).toBe(1);
    expect(obj.page.mapcount).toBe(1);
    expect(obj.page.refcount).toBe(2); // the object's and the PTE's
  });

  it("an access outside every VMA gets SIGSEGV", () => {
    const k = boot();
    const proc = create_process(k, "P");
    const results: string[] = [];
    spawn_user_thread(k, proc, "T", function* () {
      const r = yield* userAccess(k, proc.mm, 0x1234, 0, { kind: "load" }, "user", "wild_load");
      results.push(r.ok ? "ok" : r.signal);
    });
    run(k);
    expect(results).toEqual(["SIGSEGV"]);
  });

  for (const style of ["nopage", "nopfn", "insert-pfn"] as const) {
    it(`two faults on one PTE (${style}): the loser treats "present" as success`, () => {
      const k = boot();
      const dev = new FakeDevice(k, style);
      const obj = dev.create("X");
      const proc = create_process(k, "P");
      let vma: vm_area_struct | null = null;
      const results: string[] = [];
      k.kthread("setup", function* () {
        vma = yield* mapIt(dev, proc.mm, 0, "m");
      });
      run(k);
      for (const name of ["T1", "T2"]) {
        spawn_user_thread(k, proc, name, function* () {
          const r = yield* userAccess(
            k,
            proc.mm,
            vma!.vm_start,
            0,
            { kind: "load" },
            "user",
            `${name}_load`,
          );
          results.push(r.ok ? "ok" : r.signal);
        });
      }
      // Both threads get into their handlers before either installs; T1 installs first.
      const handlerDone =
        style === "nopage"
          ? "fake_nopage_done"
          : style === "nopfn"
            ? "fake_nopfn_unlock"
            : "fake_fault";
      const outcome = run(
        k,
        new Directed([
          { task: "T1", until: handlerDone },
          { task: "T2", until: handlerDone },
          { task: "T1" },
          { task: "T2" },
        ]),
      );
      expect(outcome).toEqual({ kind: "done" });
      expect(results).toEqual(["ok", "ok"]);
      expect(eventsOf(k, "pte-install")).toHaveLength(1);
      expect(proc.mm.pteAt(vma!.vm_start)?.pfn).toBe(obj.page.frame.pfn);
      if (style === "nopage") {
        expect(obj.page.refcount).toBe(2);
        expect(obj.page.mapcount).toBe(1);
      }
    });
  }

  it("vm_insert_pfn on a present PTE returns -EBUSY and changes nothing", () => {
    const k = boot();
    const dev = new FakeDevice(k, "insert-pfn");
    const obj = dev.create("X");
    const proc = create_process(k, "P");
    const rets: number[] = [];
    spawn_user_thread(k, proc, "T", function* () {
      const vma = yield* mapIt(dev, proc.mm, 0, "m");
      yield* mmap_read_lock(proc.mm, "test");
      rets.push(yield* vm_insert_pfn(vma, vma.vm_start, obj.page.frame.pfn));
      rets.push(yield* vm_insert_pfn(vma, vma.vm_start, obj.page.frame.pfn + 1));
      yield* mmap_read_unlock(proc.mm, "test");
      expect(proc.mm.pteAt(vma.vm_start)?.pfn).toBe(obj.page.frame.pfn);
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(rets).toEqual([0, -EBUSY]);
  });

  for (const truncateCheck of [true, false]) {
    it(`do_no_page racing unmap_mapping_range ${truncateCheck ? "retries with the recheck on" : "installs a stale page with the recheck off"}`, () => {
      const k = boot({ mm: { truncateCheck } });
      const dev = new FakeDevice(k, "nopage");
      const obj = dev.create("X");
      const proc = create_process(k, "P");
      let vma: vm_area_struct | null = null;
      k.kthread("setup", function* () {
        vma = yield* mapIt(dev, proc.mm, 0, "m");
      });
      run(k);
      const oldPfn = obj.page.frame.pfn;
      spawn_user_thread(k, proc, "T", function* () {
        yield* userAccess(k, proc.mm, vma!.vm_start, 0, { kind: "load" }, "user", "t_load");
      });
      k.kthread("M", function* () {
        yield* dev.move(obj);
      });
      // T's ->nopage returns the old page; the whole move runs; then T installs.
      const outcome = run(
        k,
        new Directed([{ task: "T", until: "fake_nopage_done" }, "T", { task: "M" }, { task: "T" }]),
      );
      expect(outcome).toEqual({ kind: "done" });
      const pte = proc.mm.pteAt(vma!.vm_start);
      expect(obj.page.frame.pfn).not.toBe(oldPfn);
      if (truncateCheck) {
        expect(pte?.pfn).toBe(obj.page.frame.pfn);
        expect(obj.nopageCalls).toBe(2);
      } else {
        expect(pte?.pfn).toBe(oldPfn); // a stale mapping: the process sees the obsolete page
        expect(obj.nopageCalls).toBe(1);
        expect(k.mem.resolve(oldPfn)?.owner).toBeNull();
      }
    });
  }

  it("io_remap_pfn_range over a populated PTE is a kernel bug", () => {
    const k = boot();
    const dev = new FakeDevice(k, "insert-pfn");
    const obj = dev.create("X");
    const proc = create_process(k, "P");
    spawn_user_thread(k, proc, "T", function* () {
      const vma = yield* mapIt(dev, proc.mm, 0, "m");
      yield* userAccess(k, proc.mm, vma.vm_start, 0, { kind: "load" }, "user", "populate");
      yield* io_remap_pfn_range(vma, vma.vm_start, obj.page.frame.pfn, 1, "uncached");
    });
    const outcome = run(k);
    expect(outcome.kind).toBe("bug");
    if (outcome.kind === "bug")
      expect(outcome.bug.message).toContain("remap_pte_range: BUG_ON(!pte_none(*pte))");
  });

  it("unmap_mapping_range zaps every process's PTEs and bumps truncate_count, taking no mmap_lock", () => {
    const k = boot();
    const dev = new FakeDevice(k, "nopfn");
    const obj = dev.create("X");
    const procs = [create_process(k, "P1"), create_process(k, "P2")];
    for (const proc of procs) {
      spawn_user_thread(k, proc, `T-${proc.name}`, function* () {
        const vma = yield* mapIt(dev, proc.mm, 0, "m");
        yield* userAccess(k, proc.mm, vma.vm_start, 0, { kind: "load" }, "user", "populate");
        yield* mmap_read_lock(proc.mm, "hold_mmap_lock"); // the zap must not need it
      });
    }
    run(k);
    expect(procs.every((p) => p.mm.presentPtes().length === 1)).toBe(true);
    k.kthread("M", function* () {
      yield* mutex_lock(obj.lock, "m");
      yield* unmap_mapping_range(dev.mapping, 0, 1, true);
      yield* mutex_unlock(obj.lock, "m");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(procs.map((p) => p.mm.presentPtes().length)).toEqual([0, 0]);
    expect(dev.mapping.truncate_count).toBe(1);
  });

  for (const truncateCount of [true, false]) {
    it(`unmap_mapping_range on the ${truncateCount ? "2.6 mm takes i_mmap_rwsem for write" : "6.x mm holds i_mmap_rwsem only for read, with no truncate_count"}`, () => {
      const k = boot({ mm: { truncateCount } });
      const dev = new FakeDevice(k, "nopfn");
      dev.create("X");
      const proc = create_process(k, "P");
      spawn_user_thread(k, proc, "T", function* () {
        const vma = yield* mapIt(dev, proc.mm, 0, "m");
        yield* userAccess(k, proc.mm, vma.vm_start, 0, { kind: "load" }, "user", "populate");
      });
      run(k);
      // A reader of the file's VMA tree (an rmap walk, another unmap) that stays.
      k.kthread("R", () => i_mmap_lock_read(dev.mapping, "rmap_walk"));
      k.kthread("M", () => unmap_mapping_range(dev.mapping, 0, 1, true));
      const outcome = run(k);
      if (truncateCount) {
        expect(outcome.kind).toBe("deadlock");
        expect(proc.mm.presentPtes()).toHaveLength(1);
      } else {
        expect(outcome).toEqual({ kind: "done" });
        expect(proc.mm.presentPtes()).toHaveLength(0);
        expect(dev.mapping.truncate_count).toBe(0);
      }
    });
  }

  it("fork inserts the child's VMA right after the parent's and copies PFN-map PTEs", () => {
    const k = boot();
    const dev = new FakeDevice(k, "nopfn");
    const objs = [dev.create("X"), dev.create("Y")];
    const parent = create_process(k, "P");
    const other = create_process(k, "Q");
    let child: ReturnType<typeof create_process> | null = null;
    spawn_user_thread(k, parent, "TP", function* () {
      const a = yield* mapIt(dev, parent.mm, 0, "mx");
      yield* userAccess(k, parent.mm, a.vm_start, 0, { kind: "load" }, "user", "populate");
    });
    spawn_user_thread(k, other, "TQ", function* () {
      yield* mapIt(dev, other.mm, 1, "qy");
    });
    run(k);
    k.kthread("forker", function* () {
      child = yield* do_fork(k, parent, "C");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(dev.mapping.i_mmap.map((v) => v.label)).toEqual(["mx", "mx@C", "qy"]);
    const childVma = child!.mm.vmas[0]!;
    expect(childVma.vm_flags & VM_PFNMAP).toBeTruthy();
    expect(child!.mm.pteAt(childVma.vm_start)?.pfn).toBe(objs[0]!.page.frame.pfn);
  });

  it("munmap and exit take the VMAs out of the mapping and zap their PTEs", () => {
    const k = boot();
    const dev = new FakeDevice(k, "nopfn");
    dev.create("X");
    const proc = create_process(k, "P");
    spawn_user_thread(k, proc, "T", function* () {
      const a = yield* mapIt(dev, proc.mm, 0, "a");
      yield* mapIt(dev, proc.mm, 0, "b");
      yield* userAccess(k, proc.mm, a.vm_start, 0, { kind: "load" }, "user", "populate");
      expect(yield* do_munmap(proc.mm, a)).toBe(0);
      expect(dev.mapping.i_mmap.map((v) => v.label)).toEqual(["b"]);
      yield* do_exit_mm(proc);
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(dev.mapping.i_mmap).toEqual([]);
    expect(proc.mm.presentPtes()).toEqual([]);
    expect(proc.mm.freed).toBe(true);
  });

  it("copy_from_user under an object lock is reported by lockdep even without a fault", () => {
    const k = boot();
    const dev = new FakeDevice(k, "nopfn");
    dev.create("X");
    const proc = create_process(k, "P");
    const objLock = new mutex(k, "bo.lock", lockClass("fake_object_lock"));
    spawn_user_thread(k, proc, "T", function* () {
      const a = yield* mapIt(dev, proc.mm, 0, "a");
      // Fault the page in first (mmap_lock -> object lock), then copy under the object lock.
      yield* userAccess(k, proc.mm, a.vm_start, 0, { kind: "load" }, "user", "populate");
      yield* mutex_lock(objLock, "ioctl_lock");
      const r = yield* copy_from_user(k, proc.mm, a.vm_start, 0);
      expect(r.ret).toBe(0);
      yield* mutex_unlock(objLock, "ioctl_unlock");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(k.reports.map((r) => r.headline)).toEqual([
      "possible circular locking dependency detected",
    ]);
    expect(k.reports[0]!.text).toContain("(&mm->mmap_lock){++++}, at: copy_from_user");
  });
});
