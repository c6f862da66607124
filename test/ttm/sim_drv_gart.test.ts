// The simulated driver never leaves a GART entry pointing at a freed page: like
// amdgpu_ttm_tt_unpopulate, which calls amdgpu_ttm_backend_unbind before ttm_pool_free, it
// unbinds a tt's aperture slots before its pages go back to the pool. Found by the large
// scenarios (scenarios/large/): a TT buffer moved to VRAM had its pages freed by
// ttm_bo_tt_destroy while its aperture slot stayed bound until the TT range was freed, so a
// stale user PTE through the aperture reached a free page (an isolation breach the driver
// itself would have prevented) instead of the scratch page.
import { describe, expect, it } from "vitest";
import { NonPreemptive } from "../../src/kernel/schedulers.js";
import { CoherencyScheduler, SimWorld } from "./ttm_sim_world.js";

/** Every bound aperture slot reaches a page that somebody owns. */
function gartProblems(w: SimWorld): string[] {
  const problems: string[] = [];
  w.k.mem.gart.forEach((frame, slot) => {
    if (frame !== null && frame.owner === null)
      problems.push(`aperture slot ${slot} is bound to ${frame.name}, which is free`);
  });
  return problems;
}

describe("sim_drv: GART entries", () => {
  for (const pipelined of [false, true]) {
    it(`are unbound before the pages behind them are freed (pipelined ${pipelined})`, () => {
      const w = new SimWorld({ pipelined, memory: { system: 32, tt: 4, vram: 4 } });
      const bo = w.setup(function* () {
        const x = yield* w.create("X", 2, "tt");
        yield* w.p.kernelAccess(x, 1, 0, { value: 5 });
        return x;
      });
      expect(w.k.mem.gart.filter((f) => f !== null)).toHaveLength(2);
      w.k.kthread("M", function* () {
        expect(yield* w.p.move(bo, "vram")).toBe(0);
        expect(yield* w.p.move(bo, "tt")).toBe(0);
        expect(yield* w.p.move(bo, "system")).toBe(0);
        yield* w.p.waitIdle(bo);
      });
      const checked = new CoherencyScheduler(new NonPreemptive(), () => gartProblems(w));
      expect(w.k.sched.run(checked, 100_000).kind).toBe("done");
      checked.checkNow();
      expect(w.wordsOf(bo, 1)?.[0]).toBe(5);
    });
  }
});
