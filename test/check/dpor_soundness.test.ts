// Soundness of the reductions against plain DFS on small random programs: every final state
// (shared values, what each task read, how the run ended) that DFS reaches over all schedules,
// DPOR must reach too, and so must the union of the work units of a cut check. Programs are
// kernel threads doing reads and writes of shared words, some hidden inside steps whose
// descriptor says nothing (found only through Sched.touch), mutex critical sections (which can
// deadlock), mutex_trylock sections, and rwsem read and write sections, plain or by trylock.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DfsStrategy } from "../../src/check/dfs.js";
import { DporStrategy } from "../../src/check/dpor.js";
import type { ExecutionRun, Harness } from "../../src/check/explore.js";
import type { Strategy } from "../../src/check/strategy.js";
import { planUnits } from "../../src/check/units.js";
import { Kernel } from "../../src/kernel/kernel.js";
import { lockClass } from "../../src/kernel/lockdep.js";
import { mutex, mutex_lock, mutex_trylock, mutex_unlock } from "../../src/kernel/mutex.js";
import {
  down_read,
  down_read_trylock,
  down_write,
  down_write_trylock,
  rw_semaphore,
  up_read,
  up_write,
} from "../../src/kernel/rwsem.js";
import type { Gen, KObject, Scheduler } from "../../src/kernel/sched.js";
import { exploreFinalStates } from "./final_states.js";

type Op =
  | { readonly kind: "read"; readonly v: number }
  | { readonly kind: "write"; readonly v: number }
  | { readonly kind: "hidden-write"; readonly v: number }
  | { readonly kind: "hidden-read"; readonly v: number }
  | { readonly kind: "section"; readonly m: number; readonly body: readonly Op[] }
  | { readonly kind: "try-section"; readonly m: number; readonly body: readonly Op[] }
  | { readonly kind: "read-section"; readonly body: readonly Op[] }
  | { readonly kind: "write-section"; readonly body: readonly Op[] }
  | { readonly kind: "try-read-section"; readonly body: readonly Op[] }
  | { readonly kind: "try-write-section"; readonly body: readonly Op[] };

/** DPOR_FC_SEED and DPOR_FC_RUNS explore other programs (CI keeps the fixed ones). */
const SEED = Number(process.env.DPOR_FC_SEED ?? 0x5eed);
const RUNS = Number(process.env.DPOR_FC_RUNS ?? 40);
const VARS = 2;
const MUTEXES = 2;

const leaf: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("read" as const), v: fc.nat(VARS - 1) }),
  fc.record({ kind: fc.constant("write" as const), v: fc.nat(VARS - 1) }),
  fc.record({ kind: fc.constant("hidden-write" as const), v: fc.nat(VARS - 1) }),
  fc.record({ kind: fc.constant("hidden-read" as const), v: fc.nat(VARS - 1) }),
);
const rwsemSection: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom(
    "read-section" as const,
    "write-section" as const,
    "try-read-section" as const,
    "try-write-section" as const,
  ),
  body: fc.array(leaf, { minLength: 1, maxLength: 1 }),
});
const trySection: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant("try-section" as const),
  m: fc.nat(MUTEXES - 1),
  body: fc.array(leaf, { minLength: 1, maxLength: 1 }),
});
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: leaf },
  { weight: 1, arbitrary: rwsemSection },
  { weight: 1, arbitrary: trySection },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("section" as const),
      m: fc.nat(MUTEXES - 1),
      body: fc.array(
        fc.oneof(
          leaf,
          fc.record({
            kind: fc.constant("section" as const),
            m: fc.nat(MUTEXES - 1),
            body: fc.array(leaf, { minLength: 1, maxLength: 1 }),
          }),
        ),
        { minLength: 1, maxLength: 2 },
      ),
    }),
  },
);
/** Scheduling points of a task: one per access, two per critical section (lock, unlock). */
function points(ops: readonly Op[]): number {
  return ops.reduce((n, o) => n + ("body" in o ? 2 + points(o.body) : 1), 0);
}

/**
 * 2 tasks of up to 3 ops, or 3 tasks of up to 2, with few enough scheduling points that DFS
 * over every schedule stays in the tens of thousands of executions.
 */
const program = fc
  .oneof(
    fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 2 }),
    fc.array(fc.array(op, { minLength: 1, maxLength: 2 }), { minLength: 3, maxLength: 3 }),
  )
  .filter((tasks) => tasks.reduce((n, t) => n + points(t), 0) <= (tasks.length === 2 ? 12 : 9));

/** Runs a program; the final state of the last run is in `last`. */
class ProgramHarness implements Harness {
  last = "";

  constructor(private readonly tasks: readonly (readonly Op[])[]) {}

  run(scheduler: Scheduler, options: { trace: boolean; maxSteps: number }): ExecutionRun {
    const k = new Kernel({ trace: options.trace, primeLockdep: false });
    const vars: Array<KObject & { value: number }> = Array.from({ length: VARS }, (_, i) => ({
      id: k.newId(),
      name: `v${i}`,
      value: 0,
    }));
    const locks = Array.from(
      { length: MUTEXES },
      (_, i) => new mutex(k, `m${i}`, lockClass(`dpor_soundness_m${i}`)),
    );
    const sem = new rw_semaphore(k, "sem", lockClass("dpor_soundness_sem"));
    const logs: number[][] = this.tasks.map(() => []);
    // A value names its write: the writer and the writer's own count, the same in every
    // execution equivalent to this one.
    const writes = this.tasks.map(() => 0);
    const runOps = function* (t: KObject, ti: number, ops: readonly Op[]): Gen {
      for (const o of ops) {
        switch (o.kind) {
          case "read":
            yield { op: "read", obj: vars[o.v]!, site: "read" };
            logs[ti]!.push(vars[o.v]!.value);
            break;
          case "write":
            yield { op: "write", obj: vars[o.v]!, site: "write" };
            vars[o.v]!.value = 100 * (ti + 1) + ++writes[ti]!;
            break;
          case "hidden-write":
            yield { op: "yield", obj: t, site: "hidden_write" };
            k.sched.touch(vars[o.v]!, true);
            vars[o.v]!.value = 100 * (ti + 1) + ++writes[ti]!;
            break;
          case "hidden-read":
            yield { op: "yield", obj: t, site: "hidden_read" };
            k.sched.touch(vars[o.v]!, false);
            logs[ti]!.push(vars[o.v]!.value);
            break;
          case "section":
            yield* mutex_lock(locks[o.m]!, "section_lock");
            yield* runOps(t, ti, o.body);
            yield* mutex_unlock(locks[o.m]!, "section_unlock");
            break;
          case "try-section": {
            const ok = (yield* mutex_trylock(locks[o.m]!, "section_trylock")) === 1;
            logs[ti]!.push(ok ? 1 : -1);
            if (!ok) break;
            yield* runOps(t, ti, o.body);
            yield* mutex_unlock(locks[o.m]!, "section_unlock");
            break;
          }
          case "read-section":
            yield* down_read(sem, "section_down_read");
            yield* runOps(t, ti, o.body);
            yield* up_read(sem, "section_up_read");
            break;
          case "write-section":
            yield* down_write(sem, "section_down_write");
            yield* runOps(t, ti, o.body);
            yield* up_write(sem, "section_up_write");
            break;
          case "try-read-section":
          case "try-write-section": {
            const read = o.kind === "try-read-section";
            const ok = read
              ? yield* down_read_trylock(sem, "section_down_read_trylock")
              : yield* down_write_trylock(sem, "section_down_write_trylock");
            logs[ti]!.push(ok ? 1 : -1);
            if (!ok) break;
            yield* runOps(t, ti, o.body);
            if (read) yield* up_read(sem, "section_up_read");
            else yield* up_write(sem, "section_up_write");
            break;
          }
        }
      }
    };
    this.tasks.forEach((ops, ti) => {
      k.kthread(`t${ti}`, (t) => runOps(t, ti, ops));
    });
    const outcome = k.sched.run(scheduler, options.maxSteps);
    // A deadlock ends the execution when the wait-for cycle closes, wherever the other tasks
    // are, so only its occurrence is a final state. A stopped execution (all runnable tasks
    // asleep) has no final state of its own: it is equivalent to explored ones.
    this.last =
      outcome.kind === "deadlock" || outcome.kind === "stopped"
        ? outcome.kind
        : JSON.stringify({ end: outcome.kind, vars: vars.map((v) => v.value), logs });
    return { sched: k.sched, outcome, findings: [] };
  }
}

/** Every final state a strategy reaches, and how many executions it took. */
function finalStates(harness: ProgramHarness, strategy: Strategy): Set<string> {
  const { states } = exploreFinalStates(harness, strategy, 10_000);
  expect(strategy.complete).toBe(true);
  return states;
}

describe("DPOR reaches every final state plain DFS reaches", () => {
  it("whole searches, and the union of a cut check's units", () => {
    fc.assert(
      fc.property(program, (tasks) => {
        const harness = new ProgramHarness(tasks);
        const dfs = finalStates(harness, new DfsStrategy());
        const dpor = finalStates(harness, new DporStrategy());
        expect(dpor).toEqual(dfs);
        const plan = planUnits(harness, "dpor", { maxSteps: 10_000, executions: 0 });
        const units = new Set<string>();
        for (const unit of plan.units) {
          if (unit.kind !== "subtree") throw new Error("a systematic plan has subtree units");
          const strategy = new DporStrategy({ root: unit.root, sleepers: unit.sleepers });
          for (const s of finalStates(harness, strategy)) units.add(s);
        }
        expect(units).toEqual(dfs);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 120_000);

  it("bounded DPOR reaches every final state bounded DFS reaches, for bounds 0 to 2", () => {
    fc.assert(
      fc.property(program, fc.nat(2), (tasks, bound) => {
        const harness = new ProgramHarness(tasks);
        const dfs = finalStates(harness, new DfsStrategy(bound));
        const dpor = finalStates(harness, new DporStrategy({ preemptionBound: bound }));
        for (const s of dfs) expect(dpor).toContain(s);
      }),
      { seed: SEED + 1, numRuns: RUNS },
    );
  }, 120_000);
});

describe("an rwsem's read side commutes under DPOR", () => {
  /** Executions DPOR needs for a program. */
  const executions = (tasks: readonly (readonly Op[])[]): number =>
    exploreFinalStates(new ProgramHarness(tasks), new DporStrategy(), 10_000).executions;
  const read = (v: number): Op => ({ kind: "read", v });
  const section = (kind: "read-section" | "write-section", v: number): Op => ({
    kind,
    body: [read(v)],
  });

  it("two readers of one word under down_read take one execution; a writer makes them race", () => {
    expect(executions([[section("read-section", 0)], [section("read-section", 0)]])).toBe(1);
    // Which task takes the lock first matters as soon as one of them writes.
    expect(
      executions([[section("read-section", 0)], [section("write-section", 1)]]),
    ).toBeGreaterThan(1);
    expect(
      executions([[section("write-section", 0)], [section("write-section", 1)]]),
    ).toBeGreaterThan(1);
  });
});
