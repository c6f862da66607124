// The oracles catch what they must: a deliberately broken protocol that unmaps only after the
// placement change is reported, and random sampling finds nothing the exhaustive search missed.
import { describe, expect, it } from "vitest";
import { dma_resv_lock, dma_resv_unlock } from "../../src/kernel/dma_resv.js";
import type { Kernel } from "../../src/kernel/kernel.js";
import type { Gen } from "../../src/kernel/sched.js";
import { InsertPfnProtocol } from "../../src/protocols/insert_pfn.js";
import type { ProtocolConfig } from "../../src/protocols/protocol.js";
import { checkScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";
import type { SimPlacement } from "../../src/ttm/sim_drv.js";
import {
  ttm_bo_unmap_virtual,
  ttm_bo_validate,
  type ttm_buffer_object,
  ttm_ctx,
} from "../../src/ttm/ttm_bo.js";
import { litmus } from "./litmus_helpers.js";

/** Ben's recipe with the order of the mover's two steps swapped: move first, unmap after. */
class UnmapAfterMoveProtocol extends InsertPfnProtocol {
  constructor(k: Kernel, config: ProtocolConfig) {
    super(k, config as Extract<ProtocolConfig, { name: "insert-pfn" }>);
    this.drm.bdev.unmapOnMove = false;
  }

  override *move(bo: ttm_buffer_object, to: SimPlacement): Gen<number> {
    yield* dma_resv_lock(bo.base.resv, null, "broken_move");
    const ret = yield* ttm_bo_validate(bo, this.drm.placement(to), ttm_ctx());
    yield* ttm_bo_unmap_virtual(bo);
    yield* dma_resv_unlock(bo.base.resv, "broken_move");
    return ret;
  }
}

const RACE = JSON.stringify({
  format: "faultline/scenario@1",
  name: "unmap-after-move",
  protocol: "insert-pfn",
  memory: { system: 24, tt: 8, vram: 8 },
  buffers: [{ name: "X", pages: 1, placement: "tt" }],
  processes: ["P"],
  setup: [
    { op: "mmap", process: "P", buffer: "X", as: "x" },
    { op: "store", process: "P", map: "x", page: 0, value: 1 },
  ],
  threads: [
    { name: "T", process: "P", ops: [{ op: "store", map: "x", page: 0, value: 2 }] },
    { name: "M", ops: [{ op: "move", buffer: "X", to: "vram" }] },
  ],
  expect: "ok",
});

describe("oracles", () => {
  it("the correct protocol is coherent on this race", () => {
    const r = checkScenario(loadScenario(RACE, "race.json"), { source: "race.json" });
    expect(r.findings).toEqual([]);
    expect(r.complete).toBe(true);
  });

  it("a protocol that unmaps after the placement change is caught", () => {
    const r = checkScenario(loadScenario(RACE, "race.json"), {
      source: "race.json",
      makeProtocol: (k, config) => new UnmapAfterMoveProtocol(k, config),
    });
    const kinds = r.findings.map((f) => f.kind);
    expect(kinds.some((k) => k === "stale-mapping" || k === "lost-write")).toBe(true);
    expect(r.matched).toBe(false);
  });

  for (const { file, scenario } of litmus(/^l(0[1-9]|1[01]|1[3678])-/)) {
    it(`random sampling finds nothing exhaustive missed: ${scenario.name}`, () => {
      const exhaustive = new Set(
        checkScenario(scenario, { source: file }).findings.map((f) => f.kind),
      );
      const random = checkScenario(scenario, {
        source: file,
        strategy: "random",
        executions: 150,
        seed: 7,
      });
      for (const f of random.findings)
        expect(exhaustive.has(f.kind), `${f.kind} missed by exhaustive`).toBe(true);
    }, 120_000);
  }
});
