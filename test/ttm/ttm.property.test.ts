// Property tests for TTM on the simulated driver (the "Must show" property item of the TTM
// issue). fast-check generates sequences of create, validate (to system/tt/vram), evict,
// swapout (of one BO, and the global swapout walk), CPU writes and reads (through a kernel map
// and through a user mapping), GPU writes, unmap and destroy, under memory pressure (a small
// VRAM and GART, a low TTM page limit). One user thread runs them in order on one schedule
// (NonPreemptive: the GPU and the delayed-delete worker run whenever the thread waits), while
// the test keeps a shadow copy of every buffer.
//
// Words 0-1 of each page are written by the CPU only, words 2-3 by the GPU only, so that the
// shadow is exact for CPU words at every moment and for all words once the buffer is idle.
//
// Checked after every op: the LRU lists are well formed, every manager's usage equals the sizes
// of the resources on its lists, every live BO's resource is on exactly one list (its manager's
// LRU or unevictable), and CPU reads return the shadow. Checked at every `sync` op (after
// waiting for every live BO and flushing the delayed-delete work): every word of every live BO
// equals the shadow, the lists hold exactly the live BOs' resources (no ghost, no zombie left),
// every BO's refcount is 1 + its mappings, ttm_bo_count counts the live BOs, the page and swap
// accounting add up, every bound GART slot and every owned frame belongs to a live BO. At the end
// everything is unmapped and destroyed and nothing may be left: no BO, no usage, no owned frame,
// no bound GART slot, no page or swap accounting, every system page free again.
//
// Runs are deterministic (a fixed seed). A failure prints fast-check's seed and path; replay it
// with TTM_FC_SEED=<seed> TTM_FC_PATH=<path> npx vitest run test/ttm/ttm.property.test.ts, and
// TTM_FC_RUNS=<n> runs more cases.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { errnoName } from "../../src/kernel/errno.js";
import { spawn_user_thread } from "../../src/kernel/fork.js";
import type { vm_area_struct } from "../../src/kernel/mm_types.js";
import { do_munmap } from "../../src/kernel/mmap.js";
import { nr_free_pages } from "../../src/kernel/page_alloc.js";
import type { Gen } from "../../src/kernel/sched.js";
import { NonPreemptive } from "../../src/kernel/schedulers.js";
import { userAccess } from "../../src/kernel/uaccess.js";
import type { SimPlacement } from "../../src/ttm/sim_drv.js";
import { ttm_bo_count, type ttm_buffer_object, ttm_ctx } from "../../src/ttm/ttm_bo.js";
import { ttm_global_swapout, ttmGlobal } from "../../src/ttm/ttm_device.js";
import { TTM_PL_TT } from "../../src/ttm/ttm_placement.js";
import type { ttm_resource } from "../../src/ttm/ttm_resource.js";
import { ttm_tt_is_populated, ttm_tt_is_swapped } from "../../src/ttm/ttm_tt.js";
import { lruCensus, membershipProblems, usageProblems } from "./ttm_lru_checks.js";
import { SimWorld } from "./ttm_sim_world.js";

const SLOTS = 5;
const WORDS = 4;
const CPU_WORDS = 2;

type Op =
  | { op: "create"; slot: number; pages: number; placement: SimPlacement }
  | { op: "validate"; slot: number; placement: SimPlacement }
  | { op: "evict"; slot: number }
  | { op: "swapout"; slot: number }
  | { op: "global-swapout" }
  | { op: "kernel-write"; slot: number; page: number; word: number; value: number }
  | { op: "kernel-read"; slot: number; page: number; word: number }
  | { op: "user-write"; slot: number; page: number; word: number; value: number }
  | { op: "user-read"; slot: number; page: number; word: number }
  | { op: "gpu-write"; slot: number; page: number; word: number; value: number }
  | { op: "unmap"; slot: number }
  | { op: "destroy"; slot: number }
  | { op: "sync" };

const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const page = fc.integer({ min: 0, max: 2 });
const placement = fc.constantFrom<SimPlacement>("system", "tt", "vram");
const value = fc.integer({ min: 1, max: 999 });
const cpuWord = fc.integer({ min: 0, max: CPU_WORDS - 1 });
const gpuWord = fc.integer({ min: CPU_WORDS, max: WORDS - 1 });
const anyWord = fc.integer({ min: 0, max: WORDS - 1 });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("create" as const),
      slot,
      pages: fc.integer({ min: 1, max: 3 }),
      placement,
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("validate" as const), slot, placement }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("evict" as const), slot }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("swapout" as const), slot }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("global-swapout" as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("kernel-write" as const),
      slot,
      page,
      word: cpuWord,
      value,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("kernel-read" as const), slot, page, word: anyWord }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("user-write" as const),
      slot,
      page,
      word: cpuWord,
      value,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("user-read" as const), slot, page, word: cpuWord }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("gpu-write" as const),
      slot,
      page,
      word: gpuWord,
      value,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("unmap" as const), slot }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("destroy" as const), slot }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("sync" as const) }) },
);

/** One buffer the test created and has not destroyed yet. */
interface Live {
  readonly bo: ttm_buffer_object;
  readonly pages: number;
  /** The last value written to each word. */
  readonly shadow: number[][];
  vma: vm_area_struct | null;
}

/** Runs `ops` on a fresh world and throws at the first broken property; returns the op log. */
function runOps(ops: readonly Op[], pipelined: boolean): string[] {
  const w = new SimWorld({
    pipelined,
    memory: { system: 24, tt: 6, vram: 4, wordsPerPage: WORDS },
  });
  const glob = ttmGlobal(w.k);
  glob.pages_limit = 10; // populating more swaps other BOs out first
  const bdev = w.p.drm.bdev;
  const P = w.process("P");
  const slots: (Live | null)[] = new Array<Live | null>(SLOTS).fill(null);
  const gone: ttm_buffer_object[] = [];
  let serial = 0;
  const log: string[] = [];

  const live = (): Live[] => slots.filter((s): s is Live => s !== null);

  const fail = (what: string, problems: readonly string[]): void => {
    if (problems.length > 0)
      throw new Error(`${what}: ${problems.join("; ")}\n  ops so far:\n    ${log.join("\n    ")}`);
  };

  /** What must hold between any two ops. */
  const structural = (what: string): void => {
    const census = lruCensus(bdev);
    fail(what, [
      ...census.problems,
      ...usageProblems(bdev, census),
      ...membershipProblems(
        census,
        live().map((l) => l.bo),
      ),
    ]);
    for (const l of live())
      if (l.bo.kref < 1 + (l.vma === null ? 0 : 1))
        fail(what, [`${l.bo.name}: kref ${l.bo.kref} with ${l.vma === null ? 0 : 1} mappings`]);
  };

  /** Waits until every live BO is idle and every delayed destroy has run. */
  function* quiesce(): Gen {
    for (const l of live()) yield* w.p.waitIdle(l.bo);
    yield* bdev.wq!.flush("quiesce");
  }

  /** What must hold once everything is idle. */
  const settled = (what: string): void => {
    structural(what);
    const problems: string[] = [];
    const bos = live();
    for (const l of bos) {
      for (let pg = 0; pg < l.pages; pg++) {
        const words = w.wordsOf(l.bo, pg);
        if (words === null) {
          // A never-populated tt has no pages: its words read as zero.
          if (l.shadow[pg]!.some((v) => v !== 0)) problems.push(`${l.bo.name}[${pg}]: data gone`);
          continue;
        }
        l.shadow[pg]!.forEach((want, word) => {
          if (words[word] !== want)
            problems.push(`${l.bo.name}[${pg}].${word} = ${words[word]}, want ${want}`);
        });
      }
      const refs = 1 + (l.vma === null ? 0 : 1);
      if (l.bo.kref !== refs) problems.push(`${l.bo.name}: kref ${l.bo.kref}, want ${refs}`);
    }
    const resources = new Set<ttm_resource>();
    for (const l of bos) if (l.bo.resource !== null) resources.add(l.bo.resource);
    for (const res of lruCensus(bdev).on.keys())
      if (!resources.has(res))
        problems.push(`a ${res.bo?.name} resource is still on a list (ghost or zombie)`);
    if (ttm_bo_count(w.k) !== bos.length)
      problems.push(`ttm_bo_count ${ttm_bo_count(w.k)}, but ${bos.length} BOs are alive`);
    let populated = 0;
    let swapped = 0;
    for (const l of bos) {
      const tt = l.bo.ttm;
      if (tt === null) continue;
      if (ttm_tt_is_populated(tt)) populated += tt.num_pages;
      if (ttm_tt_is_swapped(tt)) swapped += tt.num_pages;
    }
    if (glob.pages_allocated !== populated)
      problems.push(`pages_allocated ${glob.pages_allocated}, populated tts hold ${populated}`);
    if (glob.swap_pages_used !== swapped)
      problems.push(`swap_pages_used ${glob.swap_pages_used}, swapped tts hold ${swapped}`);
    const names = new Set(bos.map((l) => l.bo.name));
    for (const frame of [...w.k.mem.system, ...w.k.mem.vram])
      if (frame.owner !== null && !names.has(frame.owner.name))
        problems.push(`${frame.name} still belongs to ${frame.owner.name}`);
    // Every bound GART slot holds a page of the live TT BO whose range covers it.
    w.k.mem.gart.forEach((frame, slotIndex) => {
      if (frame === null) return;
      const owner = bos.find((l) => {
        const res = l.bo.resource;
        return (
          res !== null &&
          res.mem_type === TTM_PL_TT &&
          slotIndex >= res.start &&
          slotIndex < res.start + res.num_pages
        );
      });
      if (owner === undefined || frame.owner?.name !== owner.bo.name)
        problems.push(`GART slot ${slotIndex} maps ${frame.name} (${frame.owner?.name ?? "free"})`);
    });
    fail(what, problems);
  };

  function* mapped(l: Live): Gen<vm_area_struct> {
    l.vma ??= yield* w.map(P, l.bo, l.bo.name);
    return l.vma;
  }

  function* unmap(l: Live): Gen {
    if (l.vma === null) return;
    expect(yield* do_munmap(P.mm, l.vma)).toBe(0);
    l.vma = null;
  }

  function* destroy(index: number, l: Live): Gen {
    yield* unmap(l);
    yield* w.p.destroy(l.bo);
    slots[index] = null;
    gone.push(l.bo);
  }

  function* step(op: Op): Gen<string> {
    if (op.op === "sync") {
      yield* quiesce();
      settled("sync");
      return "ok";
    }
    if (op.op === "global-swapout") return String(yield* ttm_global_swapout(w.k, ttm_ctx()));
    if (op.op === "create") {
      // The slot asked for, or the first free one.
      const free = slots[op.slot] === null ? op.slot : slots.indexOf(null);
      if (free < 0) return "full";
      const bo = yield* w.p.create(`bo${serial++}`, op.pages, op.placement, false);
      if (typeof bo === "number") return errnoName(bo);
      slots[free] = {
        bo,
        pages: op.pages,
        shadow: Array.from({ length: op.pages }, () => new Array<number>(WORDS).fill(0)),
        vma: null,
      };
      return "ok";
    }
    // Every other op acts on one of the live BOs, chosen by its slot number.
    const taken = slots.flatMap((x, i) => (x === null ? [] : [i]));
    if (taken.length === 0) return "no BO";
    const index = taken[op.slot % taken.length]!;
    const l = slots[index]!;
    const bo = l.bo;
    const ret = (r: number): string => (r === 0 ? "ok" : errnoName(r));
    switch (op.op) {
      case "validate":
        return ret(yield* w.p.move(bo, op.placement));
      case "evict":
        return ret(yield* w.p.evict(bo));
      case "swapout":
        return ret(yield* w.p.swapout(bo));
      case "kernel-write": {
        const pg = op.page % l.pages;
        const r = yield* w.p.kernelAccess(bo, pg, op.word, { value: op.value });
        if (r.ret === 0) l.shadow[pg]![op.word] = op.value;
        return ret(r.ret);
      }
      case "kernel-read": {
        const pg = op.page % l.pages;
        const r = yield* w.p.kernelAccess(bo, pg, op.word, null);
        if (r.ret === 0 && r.value !== l.shadow[pg]![op.word])
          fail("kernel-read", [
            `${bo.name}[${pg}].${op.word} = ${r.value}, want ${l.shadow[pg]![op.word]}`,
          ]);
        return ret(r.ret);
      }
      case "user-write":
      case "user-read": {
        const pg = op.page % l.pages;
        const vma = yield* mapped(l);
        const access =
          op.op === "user-write"
            ? ({ kind: "store", value: op.value } as const)
            : ({ kind: "load" } as const);
        const r = yield* userAccess(w.k, P.mm, vma.vm_start + pg, op.word, access, "user", op.op);
        if (!r.ok) return r.signal;
        if (op.op === "user-write") l.shadow[pg]![op.word] = op.value;
        else if (r.value !== l.shadow[pg]![op.word])
          fail("user-read", [
            `${bo.name}[${pg}].${op.word} = ${r.value}, want ${l.shadow[pg]![op.word]}`,
          ]);
        return "ok";
      }
      case "gpu-write": {
        const pg = op.page % l.pages;
        const r = yield* w.p.gpuAccess(bo, pg, op.word, { value: op.value });
        if (r === 0) l.shadow[pg]![op.word] = op.value;
        return ret(r);
      }
      case "unmap":
        yield* unmap(l);
        return "ok";
      case "destroy":
        yield* destroy(index, l);
        return "ok";
    }
  }

  spawn_user_thread(w.k, P, "T", function* () {
    for (const op of ops) {
      const result = yield* step(op);
      log.push(`${JSON.stringify(op)} -> ${result}`);
      structural(`after ${JSON.stringify(op)}`);
    }
    yield* quiesce();
    settled("end of ops");
    for (let i = 0; i < SLOTS; i++) {
      const l = slots[i];
      if (l !== undefined && l !== null) yield* destroy(i, l);
    }
    yield* bdev.wq!.flush("teardown");
    settled("after destroying everything");
  });
  const outcome = w.k.sched.run(new NonPreemptive(), 2_000_000);
  if (outcome.kind === "bug") throw outcome.bug;
  fail("run", outcome.kind === "done" ? [] : [`the run ended in ${outcome.kind}`]);
  fail(
    "kernel reports",
    w.k.reports.map((r) => `${r.kind}: ${r.headline}`),
  );
  // Nothing leaks.
  const leaks: string[] = [];
  if (ttm_bo_count(w.k) !== 0) leaks.push(`ttm_bo_count ${ttm_bo_count(w.k)}`);
  for (const bo of gone) if (bo.kref !== 0) leaks.push(`${bo.name}: kref ${bo.kref}`);
  bdev.man_drv.forEach((man, type) => {
    if (man !== null && man.usage !== 0) leaks.push(`manager ${type}: usage ${man.usage}`);
  });
  if (lruCensus(bdev).on.size !== 0) leaks.push("resources left on the lists");
  if (glob.pages_allocated !== 0) leaks.push(`pages_allocated ${glob.pages_allocated}`);
  if (glob.swap_pages_used !== 0) leaks.push(`swap_pages_used ${glob.swap_pages_used}`);
  if (w.k.mem.gart.some((f) => f !== null)) leaks.push("GART slots still bound");
  const owned = [...w.k.mem.system, ...w.k.mem.vram].filter((f) => f.owner !== null);
  if (owned.length > 0) leaks.push(`${owned.length} frames still owned (${owned[0]!.owner!.name})`);
  if (nr_free_pages(w.k) !== w.k.mem.config.system)
    leaks.push(`${w.k.mem.config.system - nr_free_pages(w.k)} system pages not freed`);
  fail("leaks", leaks);
  return log;
}

/** fast-check parameters: a fixed seed unless replaying. */
function params(defaultSeed: number): fc.Parameters<[Op[]]> {
  const env = process.env;
  const seed = env.TTM_FC_SEED === undefined ? defaultSeed : Number(env.TTM_FC_SEED);
  const numRuns = env.TTM_FC_RUNS === undefined ? 100 : Number(env.TTM_FC_RUNS);
  return env.TTM_FC_PATH === undefined
    ? { seed, numRuns }
    : { seed, numRuns, path: env.TTM_FC_PATH, endOnFailure: true };
}

/** How often each op ended each way, over all runs: shows the runs were not vacuous. */
function outcomes(logs: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of logs) {
    const m = /^\{"op":"([a-z-]+)".*-> (.*)$/.exec(line);
    if (m === null) continue;
    const key = `${m[1]} ${/^\d+$/.test(m[2]!) ? (m[2] === "0" ? "0" : "n") : m[2]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe("ttm: random op sequences under memory pressure (property)", () => {
  for (const pipelined of [true, false]) {
    it(`no data is lost, accounting and lists stay consistent, nothing leaks (pipelined ${pipelined})`, () => {
      const logs: string[] = [];
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 10, maxLength: 60 }), (ops) => {
          logs.push(...runOps(ops, pipelined));
        }),
        params(pipelined ? 0x77a1 : 0x77a2),
      );
      const seen = outcomes(logs);
      if (process.env.TTM_FC_STATS !== undefined) console.log([...seen].sort());
      if (process.env.TTM_FC_PATH !== undefined) return;
      for (const key of [
        "create ok",
        "validate ok",
        "evict ok",
        "swapout ok",
        "global-swapout n",
        "kernel-write ok",
        "kernel-read ok",
        "user-write ok",
        "user-read ok",
        "gpu-write ok",
        "unmap ok",
        "destroy ok",
        "sync ok",
      ])
        expect(seen.get(key) ?? 0, key).toBeGreaterThan(5);
    }, 60_000);
  }

  it("a fixed op sequence exercises eviction, swapout and ghosts", () => {
    runOps(
      [
        { op: "create", slot: 0, pages: 3, placement: "vram" },
        { op: "user-write", slot: 0, page: 1, word: 0, value: 11 },
        { op: "gpu-write", slot: 0, page: 2, word: 3, value: 12 },
        { op: "create", slot: 1, pages: 3, placement: "vram" }, // fills VRAM
        { op: "create", slot: 2, pages: 2, placement: "vram" }, // evicts bo0 to TT
        { op: "kernel-write", slot: 1, page: 0, word: 1, value: 13 },
        { op: "validate", slot: 0, placement: "vram" }, // evicts again
        { op: "create", slot: 3, pages: 3, placement: "tt" },
        { op: "create", slot: 4, pages: 3, placement: "tt" }, // over the page limit: swapout
        { op: "swapout", slot: 3 },
        { op: "user-read", slot: 0, page: 1, word: 0 },
        { op: "sync" },
        { op: "destroy", slot: 1 },
        { op: "global-swapout" },
        { op: "kernel-read", slot: 0, page: 2, word: 3 },
        { op: "sync" },
      ],
      true,
    );
  });
});
