// One schedule run twice gives byte-identical traces (STYLE.md rule 4).
import { describe, expect, it } from "vitest";
import { create_process, spawn_user_thread } from "../../src/kernel/fork.js";
import type { Kernel } from "../../src/kernel/kernel.js";
import { vm_area_struct } from "../../src/kernel/mm_types.js";
import { do_mmap } from "../../src/kernel/mmap.js";
import { Prng } from "../../src/kernel/prng.js";
import { RandomScheduler } from "../../src/kernel/schedulers.js";
import { userAccess } from "../../src/kernel/uaccess.js";
import { decodeTrace, encodeTrace } from "../../src/trace/index.js";
import { FakeDevice } from "./fake_driver.js";
import { boot, run } from "./helpers.js";

function scenario(k: Kernel): void {
  const dev = new FakeDevice(k, "nopage");
  const obj = dev.create("X");
  const procs = [create_process(k, "P1"), create_process(k, "P2")];
  for (const proc of procs) {
    spawn_user_thread(k, proc, `T-${proc.name}`, function* () {
      const vma = yield* do_mmap(proc.mm, dev.filp, 0, 1, "m");
      if (!(vma instanceof vm_area_struct)) return;
      for (let i = 0; i < 3; i++) {
        yield* userAccess(
          k,
          proc.mm,
          vma.vm_start,
          0,
          { kind: "store", value: i },
          "user",
          "store",
        );
      }
    });
  }
  k.kthread("mover", function* () {
    for (let i = 0; i < 2; i++) yield* dev.move(obj);
  });
}

function traceOf(seed: number): string {
  const k = boot();
  scenario(k);
  run(k, new RandomScheduler(new Prng(seed)));
  return encodeTrace({ format: "faultline/trace@1", meta: { seed }, events: k.sched.trace! });
}

describe("determinism", () => {
  it("one schedule run twice gives byte-identical traces", () => {
    for (const seed of [1, 2, 3, 99]) {
      const a = traceOf(seed);
      const b = traceOf(seed);
      expect(a.length).toBeGreaterThan(1000);
      expect(b).toBe(a);
    }
  });

  it("different seeds explore different interleavings", () => {
    const traces = new Set([1, 2, 3, 4, 5, 6].map(traceOf));
    expect(traces.size).toBeGreaterThan(1);
  });

  it("a trace decodes back to the same events", () => {
    const text = traceOf(5);
    expect(encodeTrace(decodeTrace(text))).toBe(text);
    expect(() => decodeTrace('{"format":"other"}')).toThrow(/expected format "faultline\/trace@1"/);
  });
});
