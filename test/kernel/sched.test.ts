import { describe, expect, it } from "vitest";
import { BUG } from "../../src/kernel/bug.js";
import { Prng } from "../../src/kernel/prng.js";
import type { Gen, Task } from "../../src/kernel/sched.js";
import {
  Directed,
  NonPreemptive,
  RandomScheduler,
  RoundRobin,
} from "../../src/kernel/schedulers.js";
import { msleep, WaitQueueHead } from "../../src/kernel/wait.js";
import { boot, run } from "./helpers.js";

function* steps(task: Task, n: number, log: string[]): Gen {
  for (let i = 0; i < n; i++) {
    yield { op: "yield", obj: task, site: `${task.name}:${i}` };
    log.push(`${task.name}${i}`);
  }
}

describe("sched", () => {
  it("runs tasks to completion, one step per yield plus the start step", () => {
    const k = boot();
    const log: string[] = [];
    k.kthread("A", (t) => steps(t, 3, log));
    k.kthread("B", (t) => steps(t, 2, log));
    expect(run(k, new NonPreemptive())).toEqual({ kind: "done" });
    expect(log).toEqual(["A0", "A1", "A2", "B0", "B1"]);
    expect(k.sched.stepCount).toBe(3 + 1 + (2 + 1)); // each task: its yields plus the start step
  });

  it("interleaves under round robin and counts preemptions", () => {
    const k = boot();
    const log: string[] = [];
    k.kthread("A", (t) => steps(t, 2, log));
    k.kthread("B", (t) => steps(t, 2, log));
    run(k, new RoundRobin());
    expect(log).toEqual(["A0", "B0", "A1", "B1"]);
    expect(k.sched.preemptions).toBeGreaterThan(0);
  });

  it("records the schedule, which replays to the same log", () => {
    const first: string[] = [];
    const k1 = boot();
    k1.kthread("A", (t) => steps(t, 4, first));
    k1.kthread("B", (t) => steps(t, 4, first));
    run(k1, new RandomScheduler(new Prng(7)));
    const schedule = [...k1.sched.schedule];
    const second: string[] = [];
    const k2 = boot();
    k2.kthread("A", (t) => steps(t, 4, second));
    k2.kthread("B", (t) => steps(t, 4, second));
    run(k2, {
      pick: (runnable, sched) => runnable.find((t) => t.id === schedule[sched.stepCount])!,
    });
    expect(second).toEqual(first);
  });

  it("stops at the step bound with an explanation that names the spinning task", () => {
    const k = boot();
    k.kthread("spinner", function* (t) {
      for (;;) yield { op: "yield", obj: t, site: "spin_loop" };
    });
    const outcome = run(k, new NonPreemptive(), 100);
    expect(outcome.kind).toBe("step-bound");
    if (outcome.kind !== "step-bound") return;
    expect(outcome.explanation).toContain("step bound of 100 reached");
    expect(outcome.explanation).toContain("spinner");
    expect(outcome.explanation).toContain("spin_loop");
  });

  it("turns a BUG into a bug outcome naming the task", () => {
    const k = boot();
    k.kthread("oops", function* (t) {
      yield { op: "yield", obj: t, site: "before" };
      BUG("my_func", "kernel BUG at my_func");
    });
    const outcome = run(k);
    expect(outcome.kind).toBe("bug");
    if (outcome.kind === "bug") {
      expect(outcome.bug.message).toBe("kernel BUG at my_func");
      expect(outcome.task.name).toBe("oops");
    }
  });

  it("reports a deadlock when unfinished tasks are all blocked", () => {
    const k = boot();
    const wq = new WaitQueueHead(k, "never");
    k.kthread("sleeper", function* () {
      yield* wq.sleep("wait_forever");
    });
    const outcome = run(k);
    expect(outcome.kind).toBe("deadlock");
    if (outcome.kind === "deadlock") {
      expect(outcome.waits.map((w) => [w.task.name, w.on.name])).toEqual([["sleeper", "never"]]);
      expect(outcome.cycle).toEqual([]);
    }
  });

  it("a daemon left blocked at the end is not a deadlock", () => {
    const k = boot();
    const wq = new WaitQueueHead(k, "idle");
    k.spawnTask("worker", "kernel", true, function* () {
      yield* wq.sleep("idle_loop");
    });
    k.kthread("main", function* (t) {
      yield { op: "yield", obj: t, site: "work" };
    });
    expect(run(k)).toEqual({ kind: "done" });
  });

  it("advances simulated time only when everything sleeps", () => {
    const k = boot();
    const order: string[] = [];
    k.kthread("slow", function* () {
      yield* msleep(k, 20, "slow_sleep");
      order.push(`slow@${k.sched.nowNs / 1e6}ms`);
    });
    k.kthread("fast", function* () {
      yield* msleep(k, 5, "fast_sleep");
      order.push(`fast@${k.sched.nowNs / 1e6}ms`);
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(order).toEqual(["fast@5ms", "slow@20ms"]);
  });

  it("follows a directed schedule and reports a wrong direction", () => {
    const k = boot();
    const log: string[] = [];
    k.kthread("A", (t) => steps(t, 3, log));
    k.kthread("B", (t) => steps(t, 3, log));
    run(k, new Directed([{ task: "A", until: "A:1" }, { task: "B" }]));
    expect(log).toEqual(["A0", "B0", "B1", "B2", "A1", "A2"]);
    const k2 = boot();
    k2.kthread("A", (t) => steps(t, 1, []));
    k2.kthread("B", (t) => steps(t, 1, []));
    expect(() => run(k2, new Directed(["Z"]))).toThrow(/Z is not runnable \(runnable: A, B\)/);
  });
});
