// Kernel benchmarks: the engine's bare stepping speed and a fault-heavy run of the mm paths.
// Rows: kernel.fault_storm (steps per second on a run where user threads keep faulting on
// buffers that a mover keeps unmapping), kernel.peak_memory (after it), and kernel.step (ns per
// bare scheduling step, with tracing off as in exploration and on as in replay).

import { create_process, spawn_user_thread } from "../src/kernel/fork.js";
import { address_space, type file } from "../src/kernel/fs.js";
import { Kernel } from "../src/kernel/kernel.js";
import { lockClass } from "../src/kernel/lockdep.js";
import { unmap_mapping_range, vmf_insert_pfn_prot } from "../src/kernel/memory.js";
import { VM_FAULT_NOPAGE, VM_PFNMAP, vm_area_struct } from "../src/kernel/mm_types.js";
import { do_mmap } from "../src/kernel/mmap.js";
import { mutex, mutex_lock, mutex_unlock } from "../src/kernel/mutex.js";
import { Prng } from "../src/kernel/prng.js";
import type { Gen } from "../src/kernel/sched.js";
import { RandomScheduler, RoundRobin } from "../src/kernel/schedulers.js";
import { userAccess } from "../src/kernel/uaccess.js";
import { type Benchmark, type BenchRow, heapUsedMb, round, rssMb, timeMs } from "./harness.js";

/** Bare stepping: `tasks` kernel threads that each yield `stepsEach` times. */
function stepRun(trace: boolean, tasks: number, stepsEach: number): { steps: number; ms: number } {
  const k = new Kernel({ trace, primeLockdep: false });
  for (let i = 0; i < tasks; i++) {
    k.kthread(`t${i}`, function* (t): Gen {
      const step = { op: "yield", obj: t, site: "bench_step" } as const;
      for (let n = 0; n < stepsEach; n++) yield step;
    });
  }
  const { ms } = timeMs(() => k.sched.run(new RoundRobin(), Number.MAX_SAFE_INTEGER));
  return { steps: k.sched.stepCount, ms };
}

/**
 * A fault storm: `procs` processes each map `buffers` one-page buffers of a PFN-map driver and
 * load from them `loops` times, while a mover unmaps a random buffer every few steps.
 */
function faultStorm(
  seed: number,
  procs: number,
  buffers: number,
  loops: number,
): { steps: number; faults: number; ms: number } {
  const k = new Kernel({ trace: false, seed });
  const mapping = new address_space(k, "bench");
  const locks = Array.from(
    { length: buffers },
    (_, i) => new mutex(k, `bo${i}`, lockClass("bench_bo_lock")),
  );
  let faults = 0;
  const filp: file = {
    name: "/dev/dri/card0",
    f_mapping: mapping,
    private_data: null,
    f_op: {
      *mmap(_f, vma): Gen<number> {
        vma.vm_flags |= VM_PFNMAP;
        vma.vm_ops = {
          name: "bench_fault",
          *fault(vmf) {
            faults++;
            const lock = locks[vmf.pgoff]!;
            yield* mutex_lock(lock, "bench_fault");
            yield* vmf_insert_pfn_prot(
              vmf.vma,
              vmf.address,
              k.mem.vram[vmf.pgoff]!.pfn,
              "write-combined",
            );
            yield* mutex_unlock(lock, "bench_fault");
            return VM_FAULT_NOPAGE;
          },
        };
        return 0;
      },
    },
  };
  let running = procs;
  for (let p = 0; p < procs; p++) {
    const proc = create_process(k, `P${p}`);
    spawn_user_thread(k, proc, `T${p}`, function* () {
      const vmas: vm_area_struct[] = [];
      for (let b = 0; b < buffers; b++) {
        const vma = yield* do_mmap(proc.mm, filp, b, 1, `b${b}`);
        if (vma instanceof vm_area_struct) vmas.push(vma);
      }
      for (let n = 0; n < loops; n++) {
        for (const vma of vmas)
          yield* userAccess(k, proc.mm, vma.vm_start, 0, { kind: "load" }, "user", "bench_load");
      }
      running--;
    });
  }
  const prng = new Prng(seed);
  k.kthread("mover", function* () {
    while (running > 0) {
      const b = prng.below(buffers);
      yield* mutex_lock(locks[b]!, "bench_move");
      yield* unmap_mapping_range(mapping, b, 1, true);
      yield* mutex_unlock(locks[b]!, "bench_move");
    }
  });
  const { ms } = timeMs(() =>
    k.sched.run(new RandomScheduler(new Prng(seed)), Number.MAX_SAFE_INTEGER),
  );
  return { steps: k.sched.stepCount, faults, ms };
}

export const benchmark: Benchmark = {
  group: "kernel",
  run(): BenchRow[] {
    const rows: BenchRow[] = [];
    faultStorm(1, 4, 4, 200); // warm-up
    const storm = faultStorm(7, 4, 8, 2_000);
    rows.push({
      name: "kernel.fault_storm",
      n: storm.steps,
      faults: storm.faults,
      nsPerOp: round((storm.ms * 1e6) / storm.steps),
      stepsPerSec: Math.round(storm.steps / (storm.ms / 1000)),
    });
    rows.push({
      name: "kernel.peak_memory",
      after: "fault_storm",
      rssMb: rssMb(),
      heapUsedMb: heapUsedMb(),
    });
    stepRun(false, 4, 50_000); // warm-up
    for (const trace of [false, true]) {
      const r = stepRun(trace, 4, 250_000);
      rows.push({
        name: "kernel.step",
        trace,
        n: r.steps,
        nsPerOp: round((r.ms * 1e6) / r.steps),
        stepsPerSec: Math.round(r.steps / (r.ms / 1000)),
      });
    }
    return rows;
  },
};
