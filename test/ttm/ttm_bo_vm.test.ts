// The CPU fault path of TTM (ttm_bo_vm.c), tested from ttm-modern.md §2.3 and the coherency
// invariants of §2.9. Upstream has no KUnit coverage of it ("Triggering ttm_bo_vm_ops callbacks
// from KUnit ... might be a challenge", tests/TODO); in the model user threads simply fault.
//
// The world is the simulated GPU driver (sim_drv) with plain ttm_bo_mmap_obj, so faults run the
// default ttm_bo_vm_ops. Unless a test says otherwise, runs go through SimWorld.run, which checks
// before every step that every present PTE maps the frame that holds that buffer page now (and
// that the frame is the buffer's), and that no PTE appears while a KERNEL fence of its buffer is
// unsignalled.

import { describe, expect, it } from "vitest";
import { type dma_fence, dma_fence_init, dma_fence_signal } from "../../src/kernel/dma_fence.js";
import {
  DMA_RESV_USAGE_BOOKKEEP,
  DMA_RESV_USAGE_KERNEL,
  DMA_RESV_USAGE_READ,
  DMA_RESV_USAGE_WRITE,
  dma_resv_add_fence,
  dma_resv_fences,
  dma_resv_reserve_fences,
  type dma_resv_usage,
} from "../../src/kernel/dma_resv.js";
import { EINVAL } from "../../src/kernel/errno.js";
import { type Process, spawn_user_thread } from "../../src/kernel/fork.js";
import type { file } from "../../src/kernel/fs.js";
import { handle_mm_fault } from "../../src/kernel/memory.js";
import {
  FAULT_FLAG_ALLOW_RETRY,
  FAULT_FLAG_RETRY_NOWAIT,
  FAULT_FLAG_TRIED,
  type mm_struct,
  mmap_read_lock,
  mmap_read_unlock,
  VM_FAULT_NOPAGE,
  VM_FAULT_RETRY,
  vm_area_struct,
  type vm_fault_t,
} from "../../src/kernel/mm_types.js";
import { do_mmap, do_munmap } from "../../src/kernel/mmap.js";
import { VRAM_PFN_BASE } from "../../src/kernel/physmem.js";
import { Prng } from "../../src/kernel/prng.js";
import type { Gen } from "../../src/kernel/sched.js";
import { Directed, NonPreemptive, RandomScheduler } from "../../src/kernel/schedulers.js";
import { type UserAccessResult, userAccess } from "../../src/kernel/uaccess.js";
import type { TraceEvent } from "../../src/trace/index.js";
import { placementOf, type SimPlacement } from "../../src/ttm/sim_drv.js";
import {
  ttm_bo_count,
  ttm_bo_fini,
  ttm_bo_init_validate,
  ttm_bo_reserve,
  ttm_bo_type_sg,
  ttm_bo_unreserve,
  ttm_buffer_object,
} from "../../src/ttm/ttm_bo.js";
import { ttm_bo_mmap_obj } from "../../src/ttm/ttm_bo_vm.js";
import { ttmGlobal } from "../../src/ttm/ttm_device.js";
import { PAGE_SIZE } from "../../src/ttm/ttm_resource.js";
import {
  TTM_TT_FLAG_EXTERNAL,
  TTM_TT_FLAG_EXTERNAL_MAPPABLE,
  ttm_tt_is_populated,
  ttm_tt_is_swapped,
} from "../../src/ttm/ttm_tt.js";
import { lruCensus, membershipProblems, usageProblems } from "./ttm_lru_checks.js";
import { SimWorld } from "./ttm_sim_world.js";

// --- helpers ----------------------------------------------------------------------------------

function* access(
  w: SimWorld,
  mm: mm_struct,
  vma: vm_area_struct,
  page: number,
  word: number,
  value?: number,
): Gen<UserAccessResult> {
  const a = value === undefined ? ({ kind: "load" } as const) : ({ kind: "store", value } as const);
  return yield* userAccess(w.k, mm, vma.vm_start + page, word, a, "user", `user_${a.kind}`);
}

function* load(
  w: SimWorld,
  mm: mm_struct,
  vma: vm_area_struct,
  page: number,
  word: number,
): Gen<number> {
  const r = yield* access(w, mm, vma, page, word);
  if (!r.ok) throw new Error(`load ${vma.label}[${page}].${word}: ${r.signal}`);
  return r.value;
}

function* store(
  w: SimWorld,
  mm: mm_struct,
  vma: vm_area_struct,
  page: number,
  word: number,
  value: number,
): Gen {
  const r = yield* access(w, mm, vma, page, word, value);
  if (!r.ok) throw new Error(`store ${vma.label}[${page}].${word}: ${r.signal}`);
}

/** A distinct value for every word of every buffer. */
function wordValue(tag: number, page: number, word: number): number {
  return tag * 10_000 + page * 100 + word + 1;
}

/** Writes every word of the first `words` words of each page through the mapping. */
function* fill(
  w: SimWorld,
  mm: mm_struct,
  vma: vm_area_struct,
  pages: number,
  tag: number,
  words = w.words,
): Gen {
  for (let page = 0; page < pages; page++)
    for (let word = 0; word < words; word++)
      yield* store(w, mm, vma, page, word, wordValue(tag, page, word));
}

/** Reads every word back through the mapping and returns the ones that differ. */
function* verify(
  w: SimWorld,
  mm: mm_struct,
  vma: vm_area_struct,
  pages: number,
  tag: number,
  words = w.words,
): Gen<string[]> {
  const wrong: string[] = [];
  for (let page = 0; page < pages; page++)
    for (let word = 0; word < words; word++) {
      const got = yield* load(w, mm, vma, page, word);
      if (got !== wordValue(tag, page, word))
        wrong.push(`[${page}].${word} = ${got}, want ${wordValue(tag, page, word)}`);
    }
  return wrong;
}

function placementName(bo: ttm_buffer_object): SimPlacement | "none" {
  return bo.resource === null ? "none" : placementOf(bo.resource.mem_type);
}

/** Frames (system or VRAM) that still belong to the buffer named `name`. */
function framesOwnedBy(w: SimWorld, name: string): number {
  return [...w.k.mem.system, ...w.k.mem.vram].filter((f) => f.owner?.name === name).length;
}

/** An unsignalled fence that only the test signals. */
function testFence(w: SimWorld, name: string): dma_fence {
  return dma_fence_init(w.k, name, w.k.newId(), 1);
}

/** Adds `fence` to `bo` with `usage`, as a driver would (resv held, slot reserved). */
function* addFence(bo: ttm_buffer_object, fence: dma_fence, usage: dma_resv_usage): Gen {
  expect(yield* ttm_bo_reserve(bo, false, false, null, "test")).toBe(0);
  dma_resv_reserve_fences(bo.base.resv, 1, "test");
  dma_resv_add_fence(bo.base.resv, fence, usage, "test");
  yield* ttm_bo_unreserve(bo, "test");
}

function events<T extends TraceEvent["type"]>(
  w: SimWorld,
  type: T,
): Extract<TraceEvent, { type: T }>[] {
  return (w.k.sched.trace ?? []).filter(
    (e): e is Extract<TraceEvent, { type: T }> => e.type === type,
  );
}

function noReports(w: SimWorld): void {
  expect(w.k.reports.map((r) => `${r.kind}: ${r.headline}`)).toEqual([]);
}

// --- tests ------------------------------------------------------------------------------------

describe("ttm_bo_vm: every present PTE maps the buffer's current placement (§2.9.1)", () => {
  it.each([true, false])(
    "after each move, eviction and swapout the PTEs are gone and refaults map the new place (pipelined %s)",
    (pipelined) => {
      const w = new SimWorld({ pipelined });
      const P = w.process("P");
      const { a, vma } = w.setup(function* () {
        const a = yield* w.create("bo:A", 4, "vram");
        return { a, vma: yield* w.map(P, a, "a") };
      });
      const ops: Array<[string, () => Gen<number>]> = [
        ["move tt", () => w.p.move(a, "tt")],
        ["move system", () => w.p.move(a, "system")],
        ["swapout", () => w.p.swapout(a)],
        ["move vram", () => w.p.move(a, "vram")],
        ["evict", () => w.p.evict(a)],
        ["evict", () => w.p.evict(a)],
        ["gpu-write", () => w.p.gpuAccess(a, 2, 3, { value: 99 })],
        ["swapout", () => w.p.swapout(a)],
        ["move tt", () => w.p.move(a, "tt")],
      ];
      const seen: string[] = [];
      spawn_user_thread(w.k, P, "T", function* () {
        yield* fill(w, P.mm, vma, 4, 1, 3);
        for (const [name, op] of ops) {
          expect(yield* op(), name).toBe(0);
          // The move or swapout zapped every PTE of the buffer, in every process.
          expect(P.mm.presentPtes(), name).toEqual([]);
          expect(yield* verify(w, P.mm, vma, 4, 1, 3), name).toEqual([]);
          // One fault prefaulted the whole (4-page) VMA.
          expect(
            P.mm.presentPtes().map((p) => p.vpn),
            name,
          ).toEqual([0, 1, 2, 3].map((i) => vma.vm_start + i));
          seen.push(
            `${name}: ${placementName(a)}${a.ttm !== null && ttm_tt_is_swapped(a.ttm) ? " (swapped)" : ""}`,
          );
        }
        yield* w.p.waitIdle(a);
        expect(w.wordsOf(a, 2)![3]).toBe(99);
      });
      expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
      // The faults swapped the buffer back in every time.
      expect(seen).toEqual([
        "move tt: tt",
        "move system: system",
        "swapout: system",
        "move vram: vram",
        "evict: tt",
        "evict: system",
        "gpu-write: tt",
        "swapout: system",
        "move tt: tt",
      ]);
      noReports(w);
    },
  );

  /**
   * Three user threads in two processes write and read their own word of a buffer while a
   * kernel thread moves, evicts and swaps it out and validates a competitor that evicts it.
   */
  function interleaving(seed: number, pipelined: boolean, driver?: "ttm-protocol") {
    const w =
      driver === undefined
        ? new SimWorld({ pipelined, memory: { system: 128, tt: 16, vram: 6 } })
        : new SimWorld({
            pipelined,
            driver,
            memory: { system: 128, tt: 16, vram: 6, visibleVram: 3 },
          });
    const P = w.process("P");
    const Q = w.process("Q");
    const { a, b, pa, qa } = w.setup(function* () {
      const a = yield* w.create("bo:A", 4, "vram");
      const b = yield* w.create("bo:B", 3, "system");
      return { a, b, pa: yield* w.map(P, a, "a@P"), qa: yield* w.map(Q, a, "a@Q") };
    });
    const shadow = Array.from({ length: 4 }, () => [0, 0, 0, 0]);
    const cpu = (proc: Process, vma: vm_area_struct, name: string, word: number) =>
      spawn_user_thread(w.k, proc, name, function* () {
        for (let i = 0; i < 6; i++) {
          const page = (i * 3 + word) % 4;
          const value = (word + 1) * 1000 + i;
          yield* store(w, proc.mm, vma, page, word, value);
          shadow[page]![word] = value;
          expect(yield* load(w, proc.mm, vma, page, word), `${name} round ${i}`).toBe(value);
        }
      });
    cpu(P, pa, "T0", 0);
    cpu(P, pa, "T1", 1);
    cpu(Q, qa, "U", 2);
    w.k.kthread("M", function* () {
      yield* w.p.move(a, "tt");
      yield* w.p.move(b, "vram");
      yield* w.p.move(a, "vram"); // evicts B
      expect(yield* w.p.gpuAccess(a, 1, 3, { value: 4242 })).toBe(0);
      shadow[1]![3] = 4242;
      yield* w.p.evict(a);
      yield* w.p.swapout(a);
      yield* w.p.move(a, "system");
      yield* w.p.move(a, "vram");
      yield* w.p.evict(a);
      yield* w.p.swapout(a);
    });
    const outcome = w.run(new RandomScheduler(new Prng(seed)), [P.mm, Q.mm]);
    expect(outcome).toEqual({ kind: "done" });
    w.k.kthread("verify", function* () {
      yield* w.p.waitIdle(a);
      yield* w.p.waitIdle(b);
      yield* w.p.drm.bdev.wq!.flush("verify");
    });
    expect(w.run(new NonPreemptive(), [P.mm, Q.mm])).toEqual({ kind: "done" });
    for (let page = 0; page < 4; page++)
      expect(w.wordsOf(a, page), `page ${page}`).toEqual(shadow[page]);
    const census = lruCensus(w.p.drm.bdev);
    expect([
      ...census.problems,
      ...membershipProblems(census, [a, b]),
      ...usageProblems(w.p.drm.bdev, census),
    ]).toEqual([]);
    noReports(w);
    return w;
  }

  for (const pipelined of [true, false]) {
    it(`under random interleavings (pipelined ${pipelined}, seeds 1-6)`, () => {
      let withPtes = 0;
      for (let seed = 1; seed <= 6; seed++) withPtes += interleaving(seed, pipelined).stepsWithPtes;
      expect(withPtes).toBeGreaterThan(100);
    });
  }

  it("with the ttm protocol's fault, which moves BOs out of invisible VRAM itself (seeds 1-6)", () => {
    let withPtes = 0;
    for (let seed = 1; seed <= 6; seed++)
      withPtes += interleaving(seed, true, "ttm-protocol").stepsWithPtes;
    expect(withPtes).toBeGreaterThan(100);
  });

  it("a move waits for a fault that holds the reservation, then zaps what it inserted", () => {
    const w = new SimWorld({ pipelined: true, trace: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 2, "system");
      return { a, vma: yield* w.map(P, a, "a") };
    });
    const T = spawn_user_thread(w.k, P, "T", function* () {
      yield* store(w, P.mm, vma, 1, 0, 5);
    });
    const M = w.k.kthread("M", function* () {
      expect(yield* w.p.move(a, "tt")).toBe(0);
    });
    const outcome = w.run(
      new Directed([
        { task: "T", until: "vmf_insert_pfn_prot" }, // the fault holds the reservation
        { task: "M" }, // the move blocks on it
      ]),
      [P.mm],
    );
    expect(outcome).toEqual({ kind: "done" });
    const resv = a.base.resv.lock.name;
    const wait = events(w, "lock-wait").find((e) => e.task === M.id && e.lock === resv)!;
    const [install, reinstall] = events(w, "pte-install");
    const acquired = events(w, "lock-acquire").find(
      (e) => e.task === M.id && e.lock === resv && e.ok,
    )!;
    const zaps = events(w, "pte-zap");
    // The move waited for the fault, got the reservation after the insert, and zapped it.
    expect(wait.step).toBeLessThan(install!.step);
    expect(acquired.step).toBeGreaterThan(install!.step);
    expect(zaps.map((e) => [e.task, e.pfn])).toEqual([[M.id, install!.pfn]]);
    expect(zaps[0]!.step).toBeGreaterThan(acquired.step);
    // The store, re-executed after the move, faulted again and mapped the same page, now in TT.
    expect(reinstall!.task).toBe(T.id);
    expect(reinstall!.step).toBeGreaterThan(zaps[0]!.step);
    expect(placementName(a)).toBe("tt");
    expect(P.mm.pteAt(vma.vm_start + 1)?.pfn).toBe(a.ttm!.pages![1]!.frame.pfn);
    expect(w.wordsOf(a, 1)![0]).toBe(5);
    noReports(w);
  });

  it("a fault during a move retries after the move and waits for its copy", () => {
    const w = new SimWorld({ pipelined: true, trace: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 2, "vram");
      yield* w.p.kernelAccess(a, 1, 2, { value: 31 });
      return { a, vma: yield* w.map(P, a, "a") };
    });
    let got = -1;
    spawn_user_thread(w.k, P, "T", function* () {
      got = yield* load(w, P.mm, vma, 1, 2);
    });
    w.k.kthread("M", function* () {
      expect(yield* w.p.move(a, "tt")).toBe(0);
    });
    const outcome = w.run(
      new Directed([
        { task: "M", until: "amdgpu_copy_buffer" }, // reserved, PTEs zapped, copy not queued
        { task: "T" }, // trylock fails: drops mmap_lock and sleeps on the reservation
        { task: "M" },
      ]),
      [P.mm],
    );
    expect(outcome).toEqual({ kind: "done" });
    expect(got).toBe(31);
    const faults = events(w, "span-end").filter((e) => e.span === "fault");
    // Busy reservation: RETRY; then the retried fault waits for the copy in place and inserts.
    expect(faults.map((e) => e.result)).toEqual(["VM_FAULT_RETRY", "VM_FAULT_NOPAGE"]);
    noReports(w);
  });
});

describe("ttm_bo_vm_fault: the RETRY / NOWAIT / TRIED matrix (§2.3, §5 note 5)", () => {
  type Case = {
    readonly name: string;
    readonly flags: number;
    readonly ret: vm_fault_t;
    /** The fault returned with mmap_lock still held by the faulting thread. */
    readonly mmapHeld: boolean;
    /** The fault inserted PTEs. */
    readonly inserted: boolean;
    /** Reservation acquisitions (= releases) by the faulting thread. */
    readonly resvCycles: number;
  };
  const RETRY = FAULT_FLAG_ALLOW_RETRY;
  const cases = (busyResv: boolean): Case[] => [
    {
      name: "ALLOW_RETRY",
      flags: RETRY,
      ret: VM_FAULT_RETRY,
      mmapHeld: false,
      inserted: false,
      resvCycles: 1,
    },
    {
      name: "ALLOW_RETRY|RETRY_NOWAIT",
      flags: RETRY | FAULT_FLAG_RETRY_NOWAIT,
      ret: VM_FAULT_RETRY,
      mmapHeld: true,
      inserted: false,
      // A busy reservation is not even waited for; a busy move fence is, after the trylock.
      resvCycles: busyResv ? 0 : 1,
    },
    {
      name: "ALLOW_RETRY|TRIED",
      flags: RETRY | FAULT_FLAG_TRIED,
      ret: VM_FAULT_NOPAGE,
      mmapHeld: true,
      inserted: true,
      resvCycles: 1,
    },
    {
      name: "no retry",
      flags: 0,
      ret: VM_FAULT_NOPAGE,
      mmapHeld: true,
      inserted: true,
      resvCycles: 1,
    },
  ];

  interface Seen {
    ret: vm_fault_t;
    mmapHeld: boolean;
    ptes: number;
    resvOwner: string | null;
    kref: number;
    fenceSignalled: boolean;
  }

  /** Calls handle_mm_fault with `flags` while the BO is reserved by H, or has a move pending. */
  function fault(flags: number, busy: "reservation" | "move-fence") {
    const w = new SimWorld({ pipelined: false, trace: true });
    const P = w.process("P");
    const fence = testFence(w, "move");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 2, "system");
      if (busy === "move-fence") yield* addFence(a, fence, DMA_RESV_USAGE_KERNEL);
      return { a, vma: yield* w.map(P, a, "a") };
    });
    const krefBefore = a.kref;
    let seen: Seen | null = null;
    const T = spawn_user_thread(w.k, P, "T", function* (task) {
      yield* mmap_read_lock(P.mm, "test");
      const ret = yield* handle_mm_fault(vma, vma.vm_start, flags, "test_fault");
      seen = {
        ret,
        mmapHeld: P.mm.mmap_lock.readers.includes(task),
        ptes: P.mm.presentPtes().length,
        resvOwner: a.base.resv.lock.owner?.name ?? null,
        kref: a.kref,
        fenceSignalled: fence.signaled,
      };
      if (seen.mmapHeld) yield* mmap_read_unlock(P.mm, "test");
    });
    const directions =
      busy === "reservation"
        ? [{ task: "H", until: "holder_release" }, { task: "T" }]
        : [{ task: "T" }];
    if (busy === "reservation") {
      w.k.kthread("H", function* (task) {
        expect(yield* ttm_bo_reserve(a, false, false, null, "holder")).toBe(0);
        yield { op: "yield", obj: task, site: "holder_release" };
        yield* ttm_bo_unreserve(a, "holder_release");
      });
    } else {
      w.k.kthread("S", function* () {
        yield* dma_fence_signal(fence, "test_signal");
      });
    }
    expect(w.run(new Directed(directions), [P.mm])).toEqual({ kind: "done" });
    const lock = a.base.resv.lock.name;
    const byT = (e: { task: number; lock: string }) => e.task === T.id && e.lock === lock;
    const acquired = events(w, "lock-acquire").filter((e) => byT(e) && e.ok).length;
    const released = events(w, "lock-release").filter(byT).length;
    noReports(w);
    return { seen: seen! as Seen, acquired, released, krefBefore, a };
  }

  for (const busy of ["reservation", "move-fence"] as const) {
    describe(
      busy === "reservation"
        ? "the reservation is held by another task"
        : "a pipelined move is pending (KERNEL fence)",
      () => {
        it.each(cases(busy === "reservation"))("$name", (c) => {
          const { seen, acquired, released, krefBefore, a } = fault(c.flags, busy);
          expect(seen.ret).toBe(c.ret);
          expect(seen.mmapHeld).toBe(c.mmapHeld);
          expect(seen.ptes).toBe(c.inserted ? 2 : 0);
          // The reservation was taken and released exactly as often: never twice, never leaked.
          expect(acquired).toBe(c.resvCycles);
          expect(released).toBe(c.resvCycles);
          // Nobody holds it when the fault returns, except H while NOWAIT did not wait for it.
          const nowaitOnBusyResv = busy === "reservation" && c.flags & FAULT_FLAG_RETRY_NOWAIT;
          expect(seen.resvOwner).toBe(nowaitOnBusyResv ? "H" : null);
          // The reference the waiting path takes is dropped again.
          expect(seen.kref).toBe(krefBefore);
          expect(a.kref).toBe(krefBefore);
          if (busy === "move-fence") {
            // Only the NOWAIT attempt returns before the move completed.
            expect(seen.fenceSignalled).toBe(!(c.flags & FAULT_FLAG_RETRY_NOWAIT));
          }
        });
      },
    );
  }

  it("a full user access retries once and then maps the page (do_user_addr_fault)", () => {
    const w = new SimWorld({ pipelined: false, trace: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 1, "system");
      return { a, vma: yield* w.map(P, a, "a") };
    });
    spawn_user_thread(w.k, P, "T", function* () {
      yield* store(w, P.mm, vma, 0, 0, 8);
    });
    w.k.kthread("H", function* (task) {
      expect(yield* ttm_bo_reserve(a, false, false, null, "holder")).toBe(0);
      yield { op: "yield", obj: task, site: "holder_release" };
      yield* ttm_bo_unreserve(a, "holder_release");
    });
    const outcome = w.run(new Directed([{ task: "H", until: "holder_release" }, { task: "T" }]), [
      P.mm,
    ]);
    expect(outcome).toEqual({ kind: "done" });
    const faults = events(w, "span-end").filter((e) => e.span === "fault");
    expect(faults.map((e) => e.result)).toEqual(["VM_FAULT_RETRY", "VM_FAULT_NOPAGE"]);
    expect(w.wordsOf(a, 0)![0]).toBe(8);
  });
});

describe("ttm_bo_vm: a pipelined move keeps faults out until its fence signals (§2.9.2)", () => {
  it("a fault after a pipelined move inserts nothing before the copy fence signalled", () => {
    const w = new SimWorld({ pipelined: true, trace: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 4, "vram");
      for (let page = 0; page < 4; page++)
        yield* w.p.kernelAccess(a, page, 0, { value: wordValue(1, page, 0) });
      return { a, vma: yield* w.map(P, a, "a") };
    });
    let moveFence: dma_fence | null = null;
    const got: number[] = [];
    w.k.kthread("M", function* () {
      expect(yield* w.p.move(a, "tt")).toBe(0);
      moveFence =
        dma_resv_fences(a.base.resv, DMA_RESV_USAGE_KERNEL).find((f) => !f.signaled) ?? null;
    });
    spawn_user_thread(w.k, P, "T", function* () {
      for (let page = 0; page < 4; page++) got.push(yield* load(w, P.mm, vma, page, 0));
    });
    // The whole move first, GPU held back; then the fault, which has to wait for the GPU.
    const outcome = w.run(new Directed([{ task: "M" }, { task: "T" }]), [P.mm]);
    expect(outcome).toEqual({ kind: "done" });
    expect(moveFence).not.toBeNull();
    expect(got).toEqual([0, 1, 2, 3].map((page) => wordValue(1, page, 0)));
    const signal = events(w, "fence-signal").find((e) => e.fence === moveFence!.name)!;
    const installs = events(w, "pte-install");
    expect(installs.length).toBe(4);
    for (const e of installs) expect(e.step).toBeGreaterThan(signal.step);
    // They map the new placement: the tt pages.
    expect(installs.map((e) => e.pfn)).toEqual(a.ttm!.pages!.map((p) => p!.frame.pfn));
    const faults = events(w, "span-end").filter((e) => e.span === "fault");
    expect(faults.map((e) => e.result)).toEqual(["VM_FAULT_RETRY", "VM_FAULT_NOPAGE"]);
    noReports(w);
  });

  it("a buffer allocated where a pipelined eviction is still copying out waits for that copy", () => {
    const w = new SimWorld({ pipelined: true, trace: true, memory: { vram: 4 } });
    const P = w.process("P");
    const a = w.setup(function* () {
      const a = yield* w.create("bo:A", 4, "vram");
      for (let page = 0; page < 4; page++)
        yield* w.p.kernelAccess(a, page, 0, { value: 0xa0 + page });
      return a;
    });
    let b: ttm_buffer_object | null = null;
    const got: number[] = [];
    w.k.kthread("C", function* () {
      b = yield* w.create("bo:B", 4, "vram"); // evicts A with a pipelined GPU copy
    });
    spawn_user_thread(w.k, P, "T", function* () {
      const vma = yield* w.map(P, b!, "b");
      for (let page = 0; page < 4; page++) got.push(yield* load(w, P.mm, vma, page, 0));
    });
    const outcome = w.run(new Directed([{ task: "C" }, { task: "T" }]), [P.mm]);
    expect(outcome).toEqual({ kind: "done" });
    expect(placementName(a)).toBe("tt");
    expect(b!.resource!.start).toBe(0); // the range A was evicted from
    // B reads its own cleared pages, never A's old words.
    expect(got).toEqual([0, 0, 0, 0]);
    for (let page = 0; page < 4; page++) expect(w.wordsOf(a, page)![0]).toBe(0xa0 + page);
    const firstInstall = events(w, "pte-install")[0]!;
    const signals = events(w, "fence-signal");
    expect(signals.length).toBeGreaterThanOrEqual(2); // the eviction copy and B's clear
    for (const s of signals) expect(s.step).toBeLessThan(firstInstall.step);
    expect(firstInstall.pfn).toBe(VRAM_PFN_BASE);
    noReports(w);
  });
});

describe("ttm_bo_vm: an evicted and then re-faulted buffer keeps every word (§2.9)", () => {
  it.each([true, false])(
    "evict VRAM -> TT -> SYSTEM through the mapping (pipelined %s)",
    (pipelined) => {
      const w = new SimWorld({ pipelined });
      const P = w.process("P");
      const { a, vma } = w.setup(function* () {
        const a = yield* w.create("bo:A", 4, "vram");
        return { a, vma: yield* w.map(P, a, "a") };
      });
      const where: string[] = [];
      spawn_user_thread(w.k, P, "T", function* () {
        yield* fill(w, P.mm, vma, 4, 3);
        for (let round = 0; round < 2; round++) {
          expect(yield* w.p.evict(a)).toBe(0);
          where.push(placementName(a));
          expect(yield* verify(w, P.mm, vma, 4, 3)).toEqual([]);
        }
      });
      expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
      expect(where).toEqual(["tt", "system"]);
      noReports(w);
    },
  );

  it.each([true, false])(
    "evicted by a competitor under VRAM pressure, and back (pipelined %s)",
    (pipelined) => {
      const w = new SimWorld({ pipelined, memory: { vram: 4 } });
      const P = w.process("P");
      const { a, va } = w.setup(function* () {
        const a = yield* w.create("bo:A", 4, "vram");
        return { a, va: yield* w.map(P, a, "a") };
      });
      const where: string[] = [];
      spawn_user_thread(w.k, P, "T", function* () {
        yield* fill(w, P.mm, va, 4, 4);
        // GPU writes to A's last word, kernel writes to its third, before it is evicted.
        for (let page = 0; page < 4; page++) {
          expect(yield* w.p.gpuAccess(a, page, 3, { value: 700 + page })).toBe(0);
        }
        const b = yield* w.create("bo:B", 4, "vram"); // evicts A
        const vb = yield* w.map(P, b, "b");
        yield* fill(w, P.mm, vb, 4, 5);
        where.push(`${placementName(a)}/${placementName(b)}`);
        for (let page = 0; page < 4; page++) {
          expect(yield* load(w, P.mm, va, page, 3)).toBe(700 + page);
          for (let word = 0; word < 3; word++)
            expect(yield* load(w, P.mm, va, page, word)).toBe(wordValue(4, page, word));
        }
        expect(yield* w.p.move(a, "vram")).toBe(0); // evicts B
        where.push(`${placementName(a)}/${placementName(b)}`);
        expect(yield* verify(w, P.mm, vb, 4, 5)).toEqual([]);
        for (let page = 0; page < 4; page++)
          expect(yield* load(w, P.mm, va, page, 3)).toBe(700 + page);
      });
      expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
      expect(where).toEqual(["tt/vram", "vram/tt"]);
      noReports(w);
    },
  );
});

describe("ttm_bo_vm: swapout and swapin lose nothing (§2.8)", () => {
  function swapped(w: SimWorld, a: ttm_buffer_object, pages: number): void {
    expect(ttm_tt_is_swapped(a.ttm!)).toBe(true);
    expect(ttm_tt_is_populated(a.ttm!)).toBe(false);
    expect(framesOwnedBy(w, a.name)).toBe(0);
    expect(ttmGlobal(w.k).swap_pages_used).toBe(pages);
    const census = lruCensus(w.p.drm.bdev);
    expect(census.on.get(a.resource!)?.map((l) => l.name)).toEqual(["unevictable"]);
  }

  function swappedIn(w: SimWorld, a: ttm_buffer_object): void {
    expect(ttm_tt_is_swapped(a.ttm!)).toBe(false);
    expect(ttmGlobal(w.k).swap_pages_used).toBe(0);
    const census = lruCensus(w.p.drm.bdev);
    expect(membershipProblems(census, [a])).toEqual([]);
    expect(census.on.get(a.resource!)?.map((l) => l.name)).toEqual([`${placementName(a)}.lru[0]`]);
  }

  it("a mapped SYSTEM buffer is unmapped, swapped out, and swapped in by the next fault", () => {
    const w = new SimWorld({ pipelined: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 3, "system");
      return { a, vma: yield* w.map(P, a, "a") };
    });
    spawn_user_thread(w.k, P, "T", function* () {
      yield* fill(w, P.mm, vma, 3, 6);
      expect(yield* w.p.swapout(a)).toBe(0);
      expect(P.mm.presentPtes()).toEqual([]);
      swapped(w, a, 3);
      expect(yield* verify(w, P.mm, vma, 3, 6)).toEqual([]);
      swappedIn(w, a);
    });
    expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
    noReports(w);
  });

  it("a TT buffer with GPU writes is moved to SYSTEM, swapped out, and read back by kmap", () => {
    const w = new SimWorld({ pipelined: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 3, "tt");
      return { a, vma: yield* w.map(P, a, "a") };
    });
    spawn_user_thread(w.k, P, "T", function* () {
      yield* fill(w, P.mm, vma, 3, 7, 3);
      for (let page = 0; page < 3; page++)
        yield* w.p.gpuAccess(a, page, 3, { value: wordValue(7, page, 3) });
      expect(yield* w.p.swapout(a)).toBe(0); // waits for the GPU writes first
      expect(placementName(a)).toBe("system");
      swapped(w, a, 3);
      for (let page = 0; page < 3; page++)
        for (let word = 0; word < 4; word++) {
          const r = yield* w.p.kernelAccess(a, page, word, null);
          expect(r).toEqual({ ret: 0, value: wordValue(7, page, word) });
        }
      swappedIn(w, a);
      expect(yield* verify(w, P.mm, vma, 3, 7)).toEqual([]);
    });
    expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
    noReports(w);
  });

  it.each([true, false])(
    "a swapped buffer validated into VRAM keeps its words (pipelined %s)",
    (pipelined) => {
      const w = new SimWorld({ pipelined });
      const P = w.process("P");
      const { a, vma } = w.setup(function* () {
        const a = yield* w.create("bo:A", 2, "system");
        return { a, vma: yield* w.map(P, a, "a") };
      });
      spawn_user_thread(w.k, P, "T", function* () {
        yield* fill(w, P.mm, vma, 2, 8);
        expect(yield* w.p.swapout(a)).toBe(0);
        swapped(w, a, 2);
        expect(yield* w.p.move(a, "vram")).toBe(0);
        expect(placementName(a)).toBe("vram");
        expect(yield* verify(w, P.mm, vma, 2, 8)).toEqual([]);
        // Swapped in on the way (through TT), and the swap space given back.
        expect(a.ttm).toBeNull();
        expect(ttmGlobal(w.k).swap_pages_used).toBe(0);
      });
      expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
      noReports(w);
    },
  );

  it("page pressure from another buffer's population swaps an idle buffer out (trylock only)", () => {
    const w = new SimWorld({ pipelined: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 4, "system");
      return { a, vma: yield* w.map(P, a, "a") };
    });
    spawn_user_thread(w.k, P, "T", function* () {
      yield* fill(w, P.mm, vma, 4, 9);
      const glob = ttmGlobal(w.k);
      glob.pages_limit = glob.pages_allocated + 1;
      // Populating B's 2 pages goes over the limit: the global swapout takes A.
      yield* w.create("bo:B", 2, "tt");
      expect(P.mm.presentPtes()).toEqual([]);
      swapped(w, a, 4);
      glob.pages_limit = 1_000;
      expect(yield* verify(w, P.mm, vma, 4, 9)).toEqual([]);
      swappedIn(w, a);
    });
    expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
    noReports(w);
  });
});

describe("ttm_bo_vm: bounds, prefault, device removal, imports, rendering fences (§2.9)", () => {
  it("a fault beyond the buffer's size gets SIGBUS; mmap itself refuses such a VMA", () => {
    const w = new SimWorld({ pipelined: true });
    const P = w.process("P");
    const a = w.setup(function* () {
      return yield* w.create("bo:A", 2, "system");
    });
    // A device file whose mmap skips drm_gem_mmap's size check: the VMA is 4 pages long.
    const raw: file = {
      name: "/dev/dri/card0-raw",
      f_mapping: w.p.drm.bdev.dev_mapping!,
      private_data: null,
      f_op: {
        *mmap(_f, vma): Gen<number> {
          return ttm_bo_mmap_obj(vma, a);
        },
      },
    };
    const results: string[] = [];
    spawn_user_thread(w.k, P, "T", function* () {
      expect(yield* do_mmap(P.mm, w.p.drm.filp, w.p.drm.mmapOffset(a), 4, "too-big")).toBe(-EINVAL);
      const vma = yield* do_mmap(P.mm, raw, w.p.drm.mmapOffset(a), 4, "raw");
      if (!(vma instanceof vm_area_struct)) throw new Error("mmap");
      for (const page of [2, 3, 0, 1]) {
        const r = yield* access(w, P.mm, vma, page, 0);
        results.push(r.ok ? "ok" : r.signal);
      }
      // The fault at page 0 prefaulted pages 0 and 1 and stopped at the end of the buffer.
      expect(P.mm.presentPtes().map((p) => p.vpn - vma.vm_start)).toEqual([0, 1]);
      yield* do_munmap(P.mm, vma);
    });
    expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
    expect(results).toEqual(["SIGBUS", "SIGBUS", "ok", "ok"]);
    noReports(w);
  });

  it.each(["system", "vram"] as const)(
    "prefault inserts from the faulting page to the VMA end, never beyond (%s)",
    (placement) => {
      const w = new SimWorld({ pipelined: true });
      const P = w.process("P");
      const { a, mid } = w.setup(function* () {
        const a = yield* w.create("bo:A", 8, placement);
        // The VMA maps buffer pages 2..5.
        return { a, mid: yield* w.map(P, a, "mid", 2, 4) };
      });
      spawn_user_thread(w.k, P, "T", function* () {
        yield* load(w, P.mm, mid, 1, 0); // buffer page 3
        const ptes = P.mm.presentPtes();
        expect(ptes.map((p) => p.vpn - mid.vm_start)).toEqual([1, 2, 3]);
        for (const { vpn, pte } of ptes)
          expect(w.k.mem.resolve(pte.pfn)).toBe(w.p.currentFrame(a, vpn - mid.vm_start + 2));
        expect(P.mm.pteAt(mid.vm_end)).toBeNull();
        // With a smaller prefault count, only that many pages.
        yield* w.p.move(a, placement === "vram" ? "system" : "vram");
        w.p.drm.bdev.numPrefault = 2;
        yield* load(w, P.mm, mid, 0, 0);
        expect(P.mm.presentPtes().map((p) => p.vpn - mid.vm_start)).toEqual([0, 1]);
      });
      expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
      noReports(w);
    },
  );

  it("after device removal every page of the VMA maps one zeroed dummy page", () => {
    const w = new SimWorld({ pipelined: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 4, "system");
      return { a, vma: yield* w.map(P, a, "a") };
    });
    spawn_user_thread(w.k, P, "T", function* () {
      yield* fill(w, P.mm, vma, 4, 2, 1);
      yield* w.p.move(a, "tt"); // zaps the PTEs
      w.p.drm.bdev.unplugged = true; // drm_dev_unplug()
      expect(yield* load(w, P.mm, vma, 2, 0)).toBe(0);
      const ptes = P.mm.presentPtes();
      expect(ptes.map((p) => p.vpn - vma.vm_start)).toEqual([0, 1, 2, 3]);
      const pfns = new Set(ptes.map((p) => p.pte.pfn));
      expect(pfns.size).toBe(1);
      const dummy = w.k.mem.resolve([...pfns][0]!)!;
      expect(dummy.owner?.name).toBe("dummy");
      expect(dummy.words).toEqual([0, 0, 0, 0]);
      for (let page = 0; page < 4; page++) expect(yield* load(w, P.mm, vma, page, 0)).toBe(0);
      // The buffer's own pages are untouched and unmapped.
      for (let page = 0; page < 4; page++)
        expect(w.wordsOf(a, page)![0]).toBe(wordValue(2, page, 0));
    });
    // The dummy page is not the buffer's current placement: no coherency hook here.
    w.k.sched.run(new NonPreemptive(), 100_000);
    expect(w.k.sched.tasks.find((t) => t.name === "T")?.state).toBe("done");
    noReports(w);
  });

  it("an imported buffer (EXTERNAL without EXTERNAL_MAPPABLE) always gets SIGBUS", () => {
    const w = new SimWorld({ pipelined: true });
    const P = w.process("P");
    const bdev = w.p.drm.bdev;
    const { bo, vma } = w.setup(function* () {
      const bo = new ttm_buffer_object(w.k, bdev, "bo:imported", 2 * PAGE_SIZE);
      const placement = w.p.drm.placement("system");
      expect(
        yield* ttm_bo_init_validate(bdev, bo, ttm_bo_type_sg, placement, 0, false, null, null),
      ).toBe(0);
      return { bo, vma: yield* w.map(P, bo, "imported") };
    });
    expect(bo.ttm!.page_flags & TTM_TT_FLAG_EXTERNAL).toBeTruthy();
    const results: string[] = [];
    spawn_user_thread(w.k, P, "T", function* () {
      for (let i = 0; i < 2; i++) {
        const r = yield* access(w, P.mm, vma, i, 0);
        results.push(r.ok ? "ok" : r.signal);
        expect(bo.base.resv.lock.owner).toBeNull(); // unlocked on the way out
        expect(P.mm.presentPtes()).toEqual([]);
      }
      // An exporter that allows CPU mappings sets EXTERNAL_MAPPABLE.
      yield* ttm_bo_reserve(bo, false, false, null, "test");
      bo.ttm!.page_flags |= TTM_TT_FLAG_EXTERNAL_MAPPABLE;
      yield* ttm_bo_unreserve(bo, "test");
      const r = yield* access(w, P.mm, vma, 1, 0);
      results.push(r.ok ? "ok" : r.signal);
    });
    expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
    expect(results).toEqual(["SIGBUS", "SIGBUS", "ok"]);
    noReports(w);
  });

  const usages: Array<[string, dma_resv_usage, boolean]> = [
    ["WRITE", DMA_RESV_USAGE_WRITE, false],
    ["READ", DMA_RESV_USAGE_READ, false],
    ["BOOKKEEP", DMA_RESV_USAGE_BOOKKEEP, false],
    ["KERNEL", DMA_RESV_USAGE_KERNEL, true],
  ];
  it.each(usages)(
    "a fault with an unsignalled %s fence waits for it: %s",
    (_name, usage, waits) => {
      const w = new SimWorld({ pipelined: true });
      const P = w.process("P");
      const fence = testFence(w, "job");
      const { vma } = w.setup(function* () {
        const a = yield* w.create("bo:A", 2, "tt");
        yield* addFence(a, fence, usage);
        return { a, vma: yield* w.map(P, a, "a") };
      });
      let signalledAtLoad: boolean | null = null;
      spawn_user_thread(w.k, P, "T", function* () {
        yield* store(w, P.mm, vma, 1, 0, 3);
        signalledAtLoad = fence.signaled;
      });
      w.k.kthread("S", function* () {
        yield* dma_fence_signal(fence, "test_signal");
      });
      // T runs alone until it blocks or ends; only then may S signal.
      expect(w.run(new Directed([{ task: "T" }]), [P.mm])).toEqual({ kind: "done" });
      expect(signalledAtLoad).toBe(waits);
      noReports(w);
    },
  );

  it("a fault does not wait for a queued GPU write (a real WRITE fence)", () => {
    const w = new SimWorld({ pipelined: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 2, "tt");
      return { a, vma: yield* w.map(P, a, "a") };
    });
    let queued = -1;
    spawn_user_thread(w.k, P, "T", function* () {
      expect(yield* w.p.gpuAccess(a, 0, 3, { value: 12 })).toBe(0);
      yield* store(w, P.mm, vma, 0, 0, 4);
      queued = w.p.drm.gpu.queued;
    });
    expect(w.run(new Directed([{ task: "T" }]), [P.mm])).toEqual({ kind: "done" });
    expect(queued).toBe(1); // the job had not started when the store completed
    expect(w.wordsOf(a, 0)!.slice(0, 1)).toEqual([4]);
    noReports(w);
  });

  it("a mapped buffer cannot be freed; the last munmap releases it", () => {
    const w = new SimWorld({ pipelined: true });
    const P = w.process("P");
    const { a, vma } = w.setup(function* () {
      const a = yield* w.create("bo:A", 2, "system");
      return { a, vma: yield* w.map(P, a, "a") };
    });
    spawn_user_thread(w.k, P, "T", function* () {
      yield* fill(w, P.mm, vma, 2, 1);
      const count = ttm_bo_count(w.k);
      yield* ttm_bo_fini(a); // the driver's reference
      expect(a.kref).toBe(1); // the VMA's
      expect(ttm_bo_count(w.k)).toBe(count);
      expect(yield* verify(w, P.mm, vma, 2, 1)).toEqual([]);
      yield* do_munmap(P.mm, vma);
      expect(a.kref).toBe(0);
      expect(ttm_bo_count(w.k)).toBe(count - 1);
      expect(framesOwnedBy(w, a.name)).toBe(0);
    });
    expect(w.run(new NonPreemptive(), [P.mm])).toEqual({ kind: "done" });
    noReports(w);
  });
});
