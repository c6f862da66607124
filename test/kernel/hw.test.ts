import { describe, expect, it } from "vitest";
import { agp_bind_page, agp_slot_pfn, agp_unbind_page } from "../../src/kernel/agp.js";
import {
  dma_fence_init,
  dma_fence_signal,
  dma_fence_wait,
  dma_fence_wait_timeout,
} from "../../src/kernel/dma_fence.js";
import { GpuEngine } from "../../src/kernel/gpu.js";
import {
  __free_page,
  alloc_page,
  get_page,
  nr_free_pages,
  put_page,
} from "../../src/kernel/page_alloc.js";
import { SYSTEM_PFN_BASE, TT_PFN_BASE, VRAM_PFN_BASE } from "../../src/kernel/physmem.js";
import { msleep } from "../../src/kernel/wait.js";
import { boot, eventsOf, run } from "./helpers.js";

describe("simulated hardware", () => {
  it("lays out system RAM, the aperture and VRAM in one PFN space", () => {
    const k = boot({ memory: { system: 4, tt: 2, vram: 8, visibleVram: 2 } });
    expect(k.mem.poolOf(SYSTEM_PFN_BASE + 3)).toBe("system");
    expect(k.mem.poolOf(TT_PFN_BASE + 1)).toBe("tt");
    expect(k.mem.poolOf(VRAM_PFN_BASE + 7)).toBe("vram");
    expect(k.mem.poolOf(VRAM_PFN_BASE + 8)).toBeNull();
    expect(k.mem.cpuVisible(VRAM_PFN_BASE + 1)).toBe(true);
    expect(k.mem.cpuVisible(VRAM_PFN_BASE + 2)).toBe(false);
    expect(k.mem.pfnToPage(SYSTEM_PFN_BASE)).not.toBeNull();
    expect(k.mem.pfnToPage(VRAM_PFN_BASE)).toBeNull();
    const sparse = boot({ memory: { vram: 2, sparsemem: true } });
    expect(sparse.mem.pfnToPage(VRAM_PFN_BASE)).not.toBeNull();
  });

  it("allocates and frees struct pages with refcounts; a freed page is reused first", () => {
    const k = boot({ memory: { system: 4 } });
    k.kthread("T", function* (t) {
      yield { op: "yield", obj: t, site: "alloc" };
      const p = alloc_page(k, { name: "bo:X", index: 0 }, "alloc")!;
      expect(p.refcount).toBe(1);
      expect(p.frame.owner).toEqual({ name: "bo:X", index: 0 });
      get_page(p, "get");
      put_page(k, p, "put");
      expect(nr_free_pages(k)).toBe(3);
      put_page(k, p, "put");
      expect(nr_free_pages(k)).toBe(4);
      expect(p.frame.owner).toBeNull();
      expect(alloc_page(k, null, "realloc")).toBe(p);
    });
    expect(run(k)).toEqual({ kind: "done" });
  });

  it("freeing a frame twice is a kernel bug, not silent corruption", () => {
    const k = boot();
    k.kthread("T", function* (t) {
      yield { op: "yield", obj: t, site: "go" };
      const p = alloc_page(k, null, "alloc")!;
      __free_page(k, p, "first_free");
      __free_page(k, p, "second_free");
    });
    const outcome = run(k);
    expect(outcome.kind).toBe("bug");
    if (outcome.kind === "bug") {
      expect(outcome.bug.message).toMatch(/^BUG: Bad page state: double free of page 0x1000$/);
      expect(outcome.bug.site).toBe("second_free");
    }
  });

  it("the aperture reaches the bound system page; unbound slots reach nothing", () => {
    const k = boot();
    k.kthread("T", function* (t) {
      yield { op: "yield", obj: t, site: "go" };
      const p = alloc_page(k, null, "alloc")!;
      agp_bind_page(k, 3, p.frame, "bind");
      k.mem.store(agp_slot_pfn(3), 0, 42, "kernel", "store");
      expect(p.frame.words[0]).toBe(42);
      agp_unbind_page(k, 3, "unbind");
      expect(k.mem.load(agp_slot_pfn(3), 0, "kernel", "load")).toBe(0);
      agp_unbind_page(k, 3, "unbind_again");
    });
    const outcome = run(k);
    expect(outcome.kind === "bug" && outcome.bug.message).toContain("is not bound");
  });

  it("fences wake their waiters and run callbacks; waits time out in simulated time", () => {
    const k = boot();
    const fence = dma_fence_init(k, "f", 1, 1);
    const never = dma_fence_init(k, "never", 1, 2);
    const log: string[] = [];
    fence.addCallback(() => log.push("callback"));
    k.kthread("waiter", function* () {
      yield* dma_fence_wait(fence, false, "wait_f");
      log.push("woken");
      const left = yield* dma_fence_wait_timeout(never, false, 15e9, "wait_never");
      log.push(`timeout ${left} at ${k.sched.nowNs / 1e9}s`);
    });
    k.kthread("signaller", function* () {
      yield* msleep(k, 20, "delay");
      yield* dma_fence_signal(fence, "signal");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(log).toEqual(["callback", "woken", "timeout 0 at 15.02s"]);
    // Every sleep on something that is not a lock is in the trace, with what it sleeps on.
    expect(eventsOf(k, "block").map((e) => `${e.site}: ${e.on}`)).toEqual([
      "wait_f: f",
      "delay: timer:20ms",
      "wait_never: never",
    ]);
  });

  it("the GPU engine runs jobs in order, step by step, and signals their fences", () => {
    const k = boot();
    const gpu = new GpuEngine(k);
    const src = k.mem.system[0]!;
    const dst = k.mem.vram[0]!;
    src.words[0] = 5;
    const done: string[] = [];
    k.kthread("submitter", function* () {
      const copy = yield* gpu.submit(
        "copy",
        [{ kind: "copy", srcPfn: src.pfn, dstPfn: dst.pfn }],
        "submit_copy",
      );
      const write = yield* gpu.submit(
        "write",
        [{ kind: "write", pfn: dst.pfn, word: 0, value: 9 }],
        "submit_write",
      );
      yield* dma_fence_wait(write, false, "wait_write");
      done.push(`copy ${copy.signaled} write ${write.signaled}`);
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(done).toEqual(["copy true write true"]);
    expect(dst.words[0]).toBe(9);
    expect(gpu.completed).toBe(2);
    expect(eventsOf(k, "fence-signal").map((e) => e.fence)).toEqual(["gfx:1", "gfx:2"]);
    // The engine ends asleep on its doorbell; sleeping idle is not announced in the trace.
    expect(gpu.task.state).toBe("blocked");
    expect(eventsOf(k, "block").filter((e) => e.on === "gfx.doorbell")).toEqual([]);
  });
});
