// lock-all-mmap remaps a moved buffer only once its data is in place. The 2006 moves were
// synchronous (drm_bind_ttm_region, then ioremap_vmas); the simulated driver clears fresh VRAM
// with a GPU fill, so the remap must wait for that KERNEL fence as the protocol's mmap already
// did. Found by the large scenarios (scenarios/large/): a buffer with no pages yet moved from
// system memory to VRAM was remapped at once, the process stored through the new PTE, and the
// clear then ran over the store.
import { describe, expect, it } from "vitest";
import { checkScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";

const FRESH_VRAM = JSON.stringify({
  format: "faultline/scenario@1",
  name: "lock-all-remap-after-clear",
  protocol: { name: "lock-all-mmap", order: "sorted", recheck: true },
  memory: { system: 16, tt: 2, vram: 2 },
  buffers: [{ name: "X", pages: 1, placement: "system" }],
  processes: ["P"],
  setup: [{ op: "mmap", process: "P", buffer: "X", as: "x" }],
  threads: [
    { name: "M", ops: [{ op: "move", buffer: "X", to: "vram" }] },
    { name: "T", process: "P", ops: [{ op: "store", map: "x", page: 0, value: 2 }] },
  ],
  expect: "ok",
});

describe("lock-all-mmap", () => {
  it("does not remap fresh VRAM before the GPU has cleared it", () => {
    const r = checkScenario(loadScenario(FRESH_VRAM, "fresh-vram.json"), {
      source: "fresh-vram.json",
    });
    expect(r.findings.map((f) => f.message)).toEqual([]);
    expect(r.complete).toBe(true);
  });
});
