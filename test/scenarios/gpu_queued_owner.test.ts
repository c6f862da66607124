// GPU accesses are checked against the buffer whose memory the job was queued against
// (FrameAccess.queuedOwner), not against whoever owns the frame when the ring gets to the job.
// A pipelined eviction frees the evicted buffer's VRAM at once and the next buffer may be given
// it before the GPU has run the jobs queued earlier: the ring runs them first, on the old
// contents, and the eviction copy carries their result along (ttm_bo_move_pipeline_evict; the
// next user waits for the eviction fence, ttm_bo_add_pipelined_eviction_fences). Found by the
// large scenarios (scenarios/large/): a GPU write to B queued before B's eviction was booked to
// the buffer that took B's VRAM, and the final verification reported B's data as lost.
import { describe, expect, it } from "vitest";
import type { Kernel } from "../../src/kernel/kernel.js";
import type { Gen } from "../../src/kernel/sched.js";
import type { ProtocolConfig } from "../../src/protocols/protocol.js";
import { TtmProtocol } from "../../src/protocols/ttm.js";
import { checkScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";
import { ttm_bo_reserve, ttm_bo_unreserve, type ttm_buffer_object } from "../../src/ttm/ttm_bo.js";

/** A command submission that forgets to add its job's fence to the BO (dma_resv_add_fence). */
class UnfencedSubmitProtocol extends TtmProtocol {
  constructor(k: Kernel, config: ProtocolConfig) {
    super(k, config as Extract<ProtocolConfig, { name: "ttm" }>);
  }

  override *gpuAccess(
    bo: ttm_buffer_object,
    page: number,
    word: number,
    write: { value: number } | null,
  ): Gen<number> {
    const site = "broken_cs_ioctl";
    const ret = yield* ttm_bo_reserve(bo, true, false, null, site);
    if (ret !== 0) return ret;
    const pfn = this.drm.gpuPfn(bo.resource!, page)!;
    // The job's fence is never added to the BO's reservation (no dma_resv_add_fence).
    yield* this.drm.gpu.submit(
      `write ${bo.name}[${page}]`,
      [
        write === null
          ? { kind: "read", pfn, word }
          : { kind: "write", pfn, word, value: write.value },
      ],
      site,
    );
    yield* ttm_bo_unreserve(bo, site);
    return 0;
  }
}

/** B's GPU write is queued, then moving C into the one VRAM page evicts B. */
function scenario(pipelined: boolean) {
  return loadScenario(
    JSON.stringify({
      format: "faultline/scenario@1",
      name: `gpu-write-then-evict-${pipelined ? "pipelined" : "memcpy"}`,
      protocol: { name: "ttm", pipelined },
      memory: { system: 8, tt: 2, vram: 1 },
      buffers: [
        { name: "B", pages: 1, placement: "vram" },
        { name: "C", pages: 1, placement: "tt" },
      ],
      threads: [
        {
          name: "K",
          ops: [
            { op: "gpu-write", buffer: "B", page: 0, value: 7 },
            { op: "move", buffer: "C", to: "vram" },
          ],
        },
      ],
      expect: "ok",
    }),
    "gpu-write-then-evict.json",
  );
}

describe("GPU accesses belong to the buffer they were queued for", () => {
  it("a GPU write queued before a pipelined eviction is B's, though C has B's VRAM when it runs", () => {
    const r = checkScenario(scenario(true), {
      source: "gpu-write-then-evict.json",
      strategy: "bounded",
      preemptionBound: 1,
    });
    expect(r.findings.map((f) => f.message)).toEqual([]);
    expect(r.complete).toBe(true);
  });

  it("a submission that leaves its fence out of the reservation is still caught", () => {
    // Without the fence the memcpy eviction does not wait: B's VRAM goes to C and the write
    // lands in C's data after both copies.
    const r = checkScenario(scenario(false), {
      source: "gpu-write-then-evict.json",
      strategy: "bounded",
      preemptionBound: 1,
      makeProtocol: (k, config) => new UnfencedSubmitProtocol(k, config),
    });
    expect(r.findings.map((f) => f.kind)).toContain("lost-write");
  });
});
