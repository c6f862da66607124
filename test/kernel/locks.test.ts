import { describe, expect, it } from "vitest";
import { EALREADY, EDEADLK } from "../../src/kernel/errno.js";
import { lockClass } from "../../src/kernel/lockdep.js";
import { mutex, mutex_lock, mutex_trylock, mutex_unlock } from "../../src/kernel/mutex.js";
import { Prng } from "../../src/kernel/prng.js";
import { down_read, down_write, rw_semaphore, up_read, up_write } from "../../src/kernel/rwsem.js";
import type { Gen } from "../../src/kernel/sched.js";
import { Directed, RandomScheduler } from "../../src/kernel/schedulers.js";
import { spin_lock, spin_trylock, spin_unlock, spinlock_t } from "../../src/kernel/spinlock.js";
import { msleep } from "../../src/kernel/wait.js";
import {
  ww_acquire_fini,
  ww_acquire_init,
  type ww_class,
  ww_mutex,
  ww_mutex_lock,
  ww_mutex_lock_slow,
  ww_mutex_unlock,
} from "../../src/kernel/ww_mutex.js";
import { boot, run } from "./helpers.js";

const testClass = lockClass("test_lock");
const wwClass: ww_class = {
  mutexClass: lockClass("test_ww_mutex"),
  acquireClass: lockClass("test_ww_acquire"),
};

describe("spinlock_t", () => {
  it("sleeping while one is held is a kernel bug", () => {
    const k = boot();
    const s = new spinlock_t(k, "s", testClass);
    const m = new mutex(k, "m", lockClass("test_mutex"));
    k.kthread("T", function* () {
      yield* spin_lock(s, "holder");
      yield* mutex_lock(m, "sleeps_in_atomic");
    });
    const outcome = run(k);
    expect(outcome.kind).toBe("bug");
    if (outcome.kind === "bug") {
      expect(outcome.bug.message).toContain(
        "BUG: sleeping function called from invalid context at sleeps_in_atomic",
      );
    }
  });

  it("excludes, and a contended spin_lock waits without sleeping", () => {
    const k = boot();
    const s = new spinlock_t(k, "s", testClass);
    let inside = 0;
    let max = 0;
    for (const name of ["A", "B", "C"]) {
      k.kthread(name, function* (t) {
        yield* spin_lock(s, "enter");
        inside++;
        max = Math.max(max, inside);
        yield { op: "yield", obj: t, site: "critical" };
        inside--;
        yield* spin_unlock(s, "leave");
      });
    }
    for (let seed = 0; seed < 20; seed++)
      expect(run(k, new RandomScheduler(new Prng(seed)))).toEqual({ kind: "done" });
    expect(max).toBe(1);
  });

  it("trylock fails on a held lock", () => {
    const k = boot();
    const s = new spinlock_t(k, "s", testClass);
    const got: boolean[] = [];
    k.kthread("A", function* () {
      got.push(yield* spin_trylock(s, "t1"));
      got.push(yield* spin_trylock(s, "t2"));
      yield* spin_unlock(s, "u");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(got).toEqual([true, false]);
  });

  it("unlocking a spinlock that is not held is a kernel bug", () => {
    const k = boot();
    const s = new spinlock_t(k, "s", testClass);
    k.kthread("T", function* () {
      yield* spin_unlock(s, "bad_unlock");
    });
    const outcome = run(k);
    expect(outcome.kind === "bug" && outcome.bug.message).toContain("spinlock already unlocked");
  });
});

describe("mutex", () => {
  it("hands the lock to waiters in FIFO order", () => {
    const k = boot();
    const m = new mutex(k, "m", lockClass("test_mutex"));
    const order: string[] = [];
    for (const name of ["A", "B", "C"]) {
      k.kthread(name, function* (t) {
        yield* mutex_lock(m, `lock_${name}`);
        order.push(name);
        // A scheduling point inside the critical section, so the unlock is a step of its own.
        yield { op: "yield", obj: t, site: `inside_${name}` };
        yield* mutex_unlock(m, `unlock_${name}`);
      });
    }
    // A takes it; B and C queue; releases go in queue order.
    const outcome = run(
      k,
      new Directed([
        { task: "A", until: "unlock_A" },
        { task: "C", until: "lock_C" },
        "C",
        { task: "B", until: "lock_B" },
        "B",
      ]),
    );
    expect(outcome).toEqual({ kind: "done" });
    expect(order).toEqual(["A", "C", "B"]);
  });

  it("unlock by a task that does not own it is a kernel bug", () => {
    const k = boot();
    const m = new mutex(k, "m", lockClass("test_mutex"));
    k.kthread("owner", function* () {
      yield* mutex_lock(m, "take");
      yield* msleep(k, 1, "hold");
      yield* mutex_unlock(m, "give");
    });
    k.kthread("thief", function* () {
      yield* mutex_unlock(m, "steal");
    });
    const outcome = run(k);
    expect(outcome.kind).toBe("bug");
    if (outcome.kind === "bug")
      expect(outcome.bug.message).toMatch(/thief\/\d+ unlocks m owned by owner/);
  });

  it("a task waiting on a mutex it holds is a deadlock", () => {
    const k = boot();
    const m = new mutex(k, "m", lockClass("test_mutex"));
    k.kthread("self", function* () {
      yield* mutex_lock(m, "first");
      yield* mutex_lock(m, "again");
    });
    k.kthread("bystander", function* (t) {
      for (let i = 0; i < 5; i++) yield { op: "yield", obj: t, site: "busy" };
    });
    const outcome = run(k);
    expect(outcome.kind).toBe("deadlock");
    if (outcome.kind === "deadlock") {
      expect(outcome.cycle.map((t) => t.name)).toEqual(["self"]);
      expect(outcome.waits[0]!.holders.map((t) => t.name)).toEqual(["self"]);
    }
  });

  it("trylock returns 0 on contention and adds no wait", () => {
    const k = boot();
    const m = new mutex(k, "m", lockClass("test_mutex"));
    const got: number[] = [];
    k.kthread("A", function* () {
      yield* mutex_lock(m, "a_lock");
      yield* msleep(k, 5, "a_hold");
      yield* mutex_unlock(m, "a_unlock");
    });
    k.kthread("B", function* () {
      got.push(yield* mutex_trylock(m, "b_try"));
    });
    run(k, new Directed([{ task: "A", until: "a_hold" }]));
    expect(got).toEqual([0]);
  });
});

describe("rw_semaphore", () => {
  it("readers share, a writer excludes", () => {
    const k = boot();
    const sem = new rw_semaphore(k, "sem", lockClass("test_rwsem"));
    const seen: number[] = [];
    for (const name of ["R1", "R2"]) {
      k.kthread(name, function* (t) {
        yield* down_read(sem, "read");
        seen.push(sem.readers.length);
        yield { op: "yield", obj: t, site: "reading" };
        yield* up_read(sem, "read_done");
      });
    }
    run(
      k,
      new Directed([
        { task: "R1", until: "reading" },
        { task: "R2", until: "reading" },
      ]),
    );
    expect(seen).toEqual([1, 2]);
  });

  it("is writer-fair: a queued writer blocks a new reader", () => {
    const k = boot();
    const sem = new rw_semaphore(k, "sem", lockClass("test_rwsem"));
    const order: string[] = [];
    k.kthread("R1", function* () {
      yield* down_read(sem, "r1_read");
      yield* msleep(k, 10, "r1_hold");
      order.push("R1 done");
      yield* up_read(sem, "r1_up");
    });
    k.kthread("W", function* () {
      yield* down_write(sem, "w_write");
      order.push("W");
      yield* up_write(sem, "w_up");
    });
    k.kthread("R2", function* () {
      yield* down_read(sem, "r2_read");
      order.push("R2");
      yield* up_read(sem, "r2_up");
    });
    const outcome = run(k, new Directed([{ task: "R1", until: "r1_hold" }, "W", "W", "R2", "R2"]));
    expect(outcome).toEqual({ kind: "done" });
    expect(order).toEqual(["R1 done", "W", "R2"]);
  });
});

describe("ww_mutex (Wait-Die)", () => {
  it("returns -EALREADY for a lock the context holds", () => {
    const k = boot();
    const a = new ww_mutex(k, "a", wwClass);
    const rets: number[] = [];
    k.kthread("T", function* () {
      const ctx = ww_acquire_init(k, wwClass, "init");
      rets.push(yield* ww_mutex_lock(a, ctx, "lock1"));
      rets.push(yield* ww_mutex_lock(a, ctx, "lock2"));
      yield* ww_mutex_unlock(a, "unlock");
      ww_acquire_fini(ctx, "fini");
    });
    expect(run(k)).toEqual({ kind: "done" });
    expect(rets).toEqual([0, -EALREADY]);
  });

  it("a younger context holding a lock dies against an older holder; the older one waits", () => {
    const k = boot();
    const a = new ww_mutex(k, "a", wwClass);
    const b = new ww_mutex(k, "b", wwClass);
    const rets: Record<string, number> = {};
    k.kthread("old", function* () {
      const ctx = ww_acquire_init(k, wwClass, "old_init");
      rets.oldA = yield* ww_mutex_lock(a, ctx, "old_lock_a");
      rets.oldB = yield* ww_mutex_lock(b, ctx, "old_lock_b");
      yield* ww_mutex_unlock(b, "old_unlock_b");
      yield* ww_mutex_unlock(a, "old_unlock_a");
      ww_acquire_fini(ctx, "old_fini");
    });
    k.kthread("young", function* () {
      yield { op: "yield", obj: k.current, site: "young_start" };
      const ctx = ww_acquire_init(k, wwClass, "young_init");
      rets.youngB = yield* ww_mutex_lock(b, ctx, "young_lock_b");
      rets.youngA = yield* ww_mutex_lock(a, ctx, "young_lock_a");
      if (rets.youngA === -EDEADLK) {
        yield* ww_mutex_unlock(b, "young_backoff");
        yield* ww_mutex_lock_slow(a, ctx, "young_slow_a");
        rets.youngB2 = yield* ww_mutex_lock(b, ctx, "young_relock_b");
      }
      yield* ww_mutex_unlock(a, "young_unlock_a");
      yield* ww_mutex_unlock(b, "young_unlock_b");
      ww_acquire_fini(ctx, "young_fini");
    });
    // old takes its stamp and a; young takes its stamp and b; old waits on b; young dies on a.
    const outcome = run(
      k,
      new Directed([
        { task: "old", until: "old_lock_b" },
        { task: "young", until: "young_lock_a" },
        "old",
        "young",
      ]),
    );
    expect(outcome).toEqual({ kind: "done" });
    expect(rets).toEqual({ oldA: 0, oldB: 0, youngB: 0, youngA: -EDEADLK, youngB2: 0 });
  });

  it("the back-off protocol never deadlocks, whatever the order and schedule", () => {
    for (let seed = 0; seed < 200; seed++) {
      const k = boot({ trace: false });
      const locks = [
        new ww_mutex(k, "x", wwClass),
        new ww_mutex(k, "y", wwClass),
        new ww_mutex(k, "z", wwClass),
      ];
      const orders = [
        [0, 1, 2],
        [2, 1, 0],
        [1, 2, 0],
      ];
      let completed = 0;
      orders.forEach((order, i) => {
        k.kthread(`T${i}`, function* (): Gen {
          const ctx = ww_acquire_init(k, wwClass, "init");
          const held: ww_mutex[] = [];
          let contended: ww_mutex | null = null;
          for (;;) {
            let failed = false;
            for (const li of order) {
              const lock = locks[li]!;
              if (lock === contended) continue;
              const ret = yield* ww_mutex_lock(lock, ctx, "lock");
              if (ret === -EDEADLK) {
                for (const h of held.splice(0)) yield* ww_mutex_unlock(h, "backoff");
                yield* ww_mutex_lock_slow(lock, ctx, "slow");
                held.push(lock);
                contended = lock;
                failed = true;
                break;
              }
              held.push(lock);
            }
            if (!failed) break;
          }
          for (const h of held.splice(0)) yield* ww_mutex_unlock(h, "done");
          ww_acquire_fini(ctx, "fini");
          completed++;
        });
      });
      const outcome = run(k, new RandomScheduler(new Prng(seed)), 100_000);
      expect(outcome, `seed ${seed}`).toEqual({ kind: "done" });
      expect(completed).toBe(3);
      expect(k.reports).toEqual([]);
    }
  });
});
