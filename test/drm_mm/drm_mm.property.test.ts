// Property tests for drm_mm (reference/drm_mm.md §5). fast-check generates sequences of
// inserts (every mode, with and without ONCE, alignment, range and color), reserves, removes,
// replaces and eviction scans on a small allocator, with or without a color_adjust guard. After
// every step drm_mm_check_invariants() must find nothing wrong (no overlap, nodes and holes tile
// the range, every hole index agrees with the node list), and every result must agree with a
// brute-force model that knows only the allocated intervals:
// - LOW lands at the lowest feasible address, HIGH at the highest, BEST in a smallest feasible
//   hole at its lowest feasible address, EVICT in the first feasible hole of the MRU hole walk;
// - without ONCE, -ENOSPC comes back exactly when the model finds no feasible place;
// - reserve succeeds exactly when the requested span lies inside one (color-adjusted) hole;
// - a scan reports exactly the scanned nodes that overlap its window, and after evicting them
//   (and what drm_mm_scan_color_evict returns) a DRM_MM_INSERT_EVICT insertion succeeds.
// A failure prints fast-check's seed and path; passing them back to fc.assert replays it, and a
// test below shows that a fixed seed reproduces a run exactly.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addrTreeHeight } from "../../src/drm_mm/addr_tree.js";
import {
  DRM_MM_INSERT_BEST,
  DRM_MM_INSERT_EVICT,
  DRM_MM_INSERT_HIGH,
  DRM_MM_INSERT_LOW,
  DRM_MM_INSERT_ONCE,
  drm_mm,
  drm_mm_for_each_hole,
  drm_mm_hole_follows,
  drm_mm_init,
  drm_mm_insert_node_in_range,
  drm_mm_node,
  drm_mm_node_allocated,
  drm_mm_remove_node,
  drm_mm_replace_node,
  drm_mm_reserve_node,
  drm_mm_scan,
  drm_mm_scan_add_block,
  drm_mm_scan_color_evict,
  drm_mm_scan_init_with_range,
  drm_mm_scan_remove_block,
  ENOSPC,
  type HoleBounds,
  nextNode,
} from "../../src/drm_mm/drm_mm.js";
import { drm_mm_check_invariants } from "../../src/drm_mm/drm_mm_checker.js";

// ------------------------------------------------------------------------------------------
// Operations.

type Op =
  | {
      kind: "insert";
      size: number;
      alignment: number;
      color: number;
      mode: number;
      once: boolean;
      rangeStart: number;
      rangeLength: number;
    }
  | { kind: "reserve"; start: number; size: number; color: number }
  | { kind: "remove"; pick: number }
  | { kind: "fill"; count: number; size: number; alignment: number; mode: number }
  | { kind: "thin"; every: number; offset: number }
  | { kind: "replace"; pick: number }
  | {
      kind: "scan";
      size: number;
      alignment: number;
      color: number;
      high: boolean;
      rangeStart: number;
      rangeLength: number;
      order: number[];
    };

interface Setup {
  start: number;
  size: number;
  colored: boolean;
  ops: Op[];
}

const colorArb = fc.integer({ min: 0, max: 2 });
const alignmentArb = fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 2, max: 9 }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      size: fc.integer({ min: 1, max: 40 }),
      alignment: alignmentArb,
      color: colorArb,
      mode: fc.constantFrom(
        DRM_MM_INSERT_BEST,
        DRM_MM_INSERT_LOW,
        DRM_MM_INSERT_HIGH,
        DRM_MM_INSERT_EVICT,
      ),
      once: fc.boolean(),
      rangeStart: fc.integer({ min: 0, max: 200 }),
      rangeLength: fc.integer({ min: 0, max: 220 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      start: fc.integer({ min: 0, max: 220 }),
      size: fc.integer({ min: 0, max: 30 }),
      color: colorArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("replace" as const), pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("scan" as const),
      size: fc.integer({ min: 1, max: 60 }),
      alignment: alignmentArb,
      color: colorArb,
      high: fc.boolean(),
      rangeStart: fc.integer({ min: 0, max: 100 }),
      rangeLength: fc.integer({ min: 60, max: 220 }),
      order: fc.array(fc.nat(), { maxLength: 40 }),
    }),
  },
);

const setupArb: fc.Arbitrary<Setup> = fc.record({
  start: fc.integer({ min: 0, max: 16 }),
  size: fc.integer({ min: 1, max: 200 }),
  colored: fc.boolean(),
  ops: fc.array(opArb, { maxLength: 60 }),
});

// Allocators of thousands of nodes, so that holes_addr (a B+tree of up to 32 entries per tree
// node) grows several levels, splits, merges, evens out and shrinks again: bulk fills, bulk
// removals that thin out the node list, and the usual operations at a larger scale.
const modeArb = fc.constantFrom(
  DRM_MM_INSERT_BEST,
  DRM_MM_INSERT_LOW,
  DRM_MM_INSERT_HIGH,
  DRM_MM_INSERT_EVICT,
);
const bigAlignmentArb = fc.oneof(fc.constant(0), fc.integer({ min: 2, max: 9 }), fc.constant(64));
const bigOpArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("fill" as const),
      count: fc.integer({ min: 200, max: 900 }),
      size: fc.integer({ min: 1, max: 8 }),
      alignment: bigAlignmentArb,
      mode: modeArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("thin" as const),
      every: fc.integer({ min: 2, max: 6 }),
      offset: fc.nat(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      size: fc.integer({ min: 1, max: 300 }),
      alignment: bigAlignmentArb,
      color: colorArb,
      mode: modeArb,
      once: fc.boolean(),
      rangeStart: fc.integer({ min: 0, max: 20000 }),
      rangeLength: fc.integer({ min: 0, max: 24000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      start: fc.integer({ min: 0, max: 24000 }),
      size: fc.integer({ min: 0, max: 100 }),
      color: colorArb,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("replace" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("scan" as const),
      size: fc.integer({ min: 1, max: 400 }),
      alignment: bigAlignmentArb,
      color: colorArb,
      high: fc.boolean(),
      rangeStart: fc.integer({ min: 0, max: 10000 }),
      rangeLength: fc.integer({ min: 2000, max: 24000 }),
      order: fc.array(fc.nat(), { maxLength: 40 }),
    }),
  },
);

const bigSetupArb: fc.Arbitrary<Setup> = fc.record({
  start: fc.integer({ min: 0, max: 16 }),
  size: fc.integer({ min: 4000, max: 24000 }),
  colored: fc.boolean(),
  ops: fc.array(bigOpArb, { minLength: 10, maxLength: 30 }),
});

// ------------------------------------------------------------------------------------------
// The brute-force model.

/** The color guard of the upstream tests: one unit between neighbours of different colors. */
function separate_adjacent_colors(node: drm_mm_node, color: number, bounds: HoleBounds): void {
  if (drm_mm_node_allocated(node) && node.color !== color) ++bounds.start;
  const next = nextNode(node);
  if (drm_mm_node_allocated(next) && next.color !== color) --bounds.end;
}

interface ModelHole {
  start: number;
  end: number;
  /** Usable bounds for the requested color. */
  lo: number;
  hi: number;
}

/** The holes in address order, from the allocated intervals alone. */
function modelHoles(
  nodes: readonly drm_mm_node[],
  rangeStart: number,
  rangeEnd: number,
  colored: boolean,
  color: number,
): ModelHole[] {
  const sorted = [...nodes].sort((a, b) => a.start - b.start);
  const holes: ModelHole[] = [];
  let cursor = rangeStart;
  let before: drm_mm_node | null = null;
  for (const after of [...sorted, null]) {
    const end = after === null ? rangeEnd : after.start;
    if (end > cursor) {
      let lo = cursor;
      let hi = end;
      if (colored && before !== null && before.color !== color) lo++;
      if (colored && after !== null && after.color !== color) hi--;
      holes.push({ start: cursor, end, lo, hi });
    }
    if (after !== null) {
      cursor = after.start + after.size;
      before = after;
    }
  }
  return holes;
}

/** Lowest or highest aligned start for `size` in [lo, hi), or null. */
function place(lo: number, hi: number, size: number, alignment: number, high: boolean) {
  const a = Math.max(alignment, 1);
  if (hi - lo < size) return null;
  if (high) {
    const s = Math.floor((hi - size) / a) * a;
    return s >= lo ? s : null;
  }
  const s = Math.ceil(lo / a) * a;
  return s + size <= hi ? s : null;
}

// ------------------------------------------------------------------------------------------
// Running a sequence.

class Run {
  readonly mm = new drm_mm();
  readonly nodes: drm_mm_node[] = [];
  readonly rangeStart: number;
  readonly rangeEnd: number;
  /** What happened, one line per step: replaying a seed must reproduce it exactly. */
  readonly log: string[] = [];

  constructor(readonly setup: Setup) {
    expect(drm_mm_init(this.mm, setup.start, setup.size)).toBe(0);
    if (setup.colored) this.mm.color_adjust = separate_adjacent_colors;
    this.rangeStart = setup.start;
    this.rangeEnd = setup.start + setup.size;
  }

  check(where: string): void {
    const problems = drm_mm_check_invariants(this.mm);
    if (problems.length > 0) throw new Error(`${where}: ${problems.join("; ")}`);
  }

  apply(op: Op): void {
    switch (op.kind) {
      case "insert":
        this.insert(op);
        break;
      case "reserve":
        this.reserve(op);
        break;
      case "remove":
        this.remove(op.pick);
        break;
      case "fill":
        this.fill(op);
        break;
      case "thin":
        this.thin(op);
        break;
      case "replace":
        this.replace(op.pick);
        break;
      case "scan":
        this.scan(op);
        break;
    }
  }

  insert(op: Extract<Op, { kind: "insert" }>): void {
    const rs = op.rangeStart;
    const re = op.rangeStart + op.rangeLength;
    const holes = modelHoles(
      this.nodes,
      this.rangeStart,
      this.rangeEnd,
      this.setup.colored,
      op.color,
    );
    const high = op.mode === DRM_MM_INSERT_HIGH;
    const fits = holes
      .map((h) => ({
        h,
        at: place(Math.max(h.lo, rs), Math.min(h.hi, re), op.size, op.alignment, high),
      }))
      .filter((f): f is { h: ModelHole; at: number } => f.at !== null);
    const mruBefore = [...drm_mm_for_each_hole(this.mm)].map((h) => h.hole_start);

    const node = new drm_mm_node();
    const mode = op.once ? op.mode + DRM_MM_INSERT_ONCE : op.mode;
    const err = drm_mm_insert_node_in_range(
      this.mm,
      node,
      op.size,
      op.alignment,
      op.color,
      rs,
      re,
      mode,
    );
    this.log.push(`insert ${JSON.stringify(op)} -> ${err} @${node.start}`);
    if (err === 0) {
      this.nodes.push(node);
      const fit = fits.find((f) => node.start >= f.h.start && node.start < f.h.end);
      expect(fit, "insert landed outside every feasible hole").toBeDefined();
      const feasible = fit!;
      expect(node.size).toBe(op.size);
      expect(node.color).toBe(op.color);
      if (op.alignment > 1) expect(node.start % op.alignment).toBe(0);
      expect(node.start).toBeGreaterThanOrEqual(Math.max(feasible.h.lo, rs));
      expect(node.start + node.size).toBeLessThanOrEqual(Math.min(feasible.h.hi, re));
      // Within its hole the node sits as low (as high for HIGH) as alignment allows.
      expect(node.start).toBe(feasible.at);
      if (!op.once) {
        if (op.mode === DRM_MM_INSERT_LOW) expect(node.start).toBe(fits[0]!.at);
        if (op.mode === DRM_MM_INSERT_HIGH) expect(node.start).toBe(fits[fits.length - 1]!.at);
        if (op.mode === DRM_MM_INSERT_BEST) {
          const smallest = Math.min(...fits.map((f) => f.h.end - f.h.start));
          expect(feasible.h.end - feasible.h.start).toBe(smallest);
        }
        if (op.mode === DRM_MM_INSERT_EVICT) {
          const firstFeasible = mruBefore.find((start) => fits.some((f) => f.h.start === start));
          expect(feasible.h.start).toBe(firstFeasible);
        }
      }
    } else {
      expect(err).toBe(-ENOSPC);
      if (!op.once) expect(fits, "-ENOSPC although a hole fits").toEqual([]);
    }
    this.check("after insert");
  }

  reserve(op: Extract<Op, { kind: "reserve" }>): void {
    const holes = modelHoles(
      this.nodes,
      this.rangeStart,
      this.rangeEnd,
      this.setup.colored,
      op.color,
    );
    const end = op.start + op.size;
    const fits = op.size > 0 && holes.some((h) => h.lo <= op.start && end <= h.hi);
    const node = new drm_mm_node();
    node.start = op.start;
    node.size = op.size;
    node.color = op.color;
    const err = drm_mm_reserve_node(this.mm, node);
    this.log.push(`reserve ${JSON.stringify(op)} -> ${err}`);
    expect(err).toBe(fits ? 0 : -ENOSPC);
    if (err === 0) {
      this.nodes.push(node);
      // Reserving an allocated node again must fail: its place is taken.
      expect(drm_mm_reserve_node(this.mm, node)).toBe(-ENOSPC);
    }
    this.check("after reserve");
  }

  /** Many insertions in a row; each must land in a feasible hole, as `insert` checks. */
  fill(op: Extract<Op, { kind: "fill" }>): void {
    let placed = 0;
    for (let i = 0; i < op.count; i++) {
      const node = new drm_mm_node();
      const size = 1 + ((i * 7) % op.size);
      const err = drm_mm_insert_node_in_range(
        this.mm,
        node,
        size,
        op.alignment,
        0,
        this.rangeStart,
        this.rangeEnd,
        op.mode,
      );
      if (err !== 0) {
        expect(err).toBe(-ENOSPC);
        break;
      }
      if (op.alignment > 1) expect(node.start % op.alignment).toBe(0);
      this.nodes.push(node);
      placed++;
    }
    this.log.push(`fill ${JSON.stringify(op)} -> ${placed}`);
    this.check("after fill");
  }

  /** Removes all nodes but every `every`-th, in list order. */
  thin(op: Extract<Op, { kind: "thin" }>): void {
    const keep: drm_mm_node[] = [];
    this.nodes.forEach((node, i) => {
      if ((i + op.offset) % op.every === 0) keep.push(node);
      else drm_mm_remove_node(node);
    });
    this.log.push(`thin ${JSON.stringify(op)}: ${this.nodes.length} -> ${keep.length}`);
    this.nodes.length = 0;
    this.nodes.push(...keep);
    this.check("after thin");
  }

  remove(pick: number): void {
    if (this.nodes.length === 0) return;
    const [node] = this.nodes.splice(pick % this.nodes.length, 1);
    this.log.push(`remove ${node!.start}+${node!.size}`);
    drm_mm_remove_node(node!);
    expect(drm_mm_node_allocated(node!)).toBe(false);
    this.check("after remove");
  }

  replace(pick: number): void {
    if (this.nodes.length === 0) return;
    const i = pick % this.nodes.length;
    const old = this.nodes[i]!;
    const replacement = new drm_mm_node();
    const { start, size, color } = old;
    const follows = drm_mm_hole_follows(old);
    drm_mm_replace_node(old, replacement);
    this.log.push(`replace ${start}+${size}`);
    this.nodes[i] = replacement;
    expect(drm_mm_node_allocated(old)).toBe(false);
    expect([replacement.start, replacement.size, replacement.color]).toEqual([start, size, color]);
    expect(drm_mm_hole_follows(replacement)).toBe(follows);
    this.check("after replace");
  }

  scan(op: Extract<Op, { kind: "scan" }>): void {
    const rs = op.rangeStart;
    const re = Math.min(op.rangeStart + op.rangeLength, this.rangeEnd + 1);
    if (re - rs < op.size) return;
    const scan = new drm_mm_scan();
    const mode = op.high ? DRM_MM_INSERT_HIGH : DRM_MM_INSERT_LOW;
    expect(
      drm_mm_scan_init_with_range(scan, this.mm, op.size, op.alignment, op.color, rs, re, mode),
    ).toBe(0);

    // Feed the roster in an order derived from op.order, then every remaining node.
    const pool = [...this.nodes];
    const roster: drm_mm_node[] = [];
    for (const k of op.order) {
      if (pool.length === 0) break;
      roster.push(...pool.splice(k % pool.length, 1));
    }
    roster.push(...pool);
    const added: drm_mm_node[] = [];
    let found = false;
    for (const node of roster) {
      added.push(node);
      if (drm_mm_scan_add_block(scan, node)) {
        found = true;
        break;
      }
    }
    this.check("during scan");
    const evict: drm_mm_node[] = [];
    for (let i = added.length - 1; i >= 0; i--) {
      const node = added[i]!;
      const overlaps = node.start + node.size > scan.hit_start && node.start < scan.hit_end;
      expect(drm_mm_scan_remove_block(scan, node)).toBe(found && overlaps);
      if (found && overlaps) evict.push(node);
    }
    this.check("after scan");
    this.log.push(`scan ${JSON.stringify(op)} -> ${found} [${scan.hit_start}, ${scan.hit_end})`);
    if (!found) return;

    for (const node of evict) this.evict(node);
    for (let node = drm_mm_scan_color_evict(scan); node; node = drm_mm_scan_color_evict(scan)) {
      this.evict(node);
    }
    this.check("after eviction");
    const tmp = new drm_mm_node();
    const err = drm_mm_insert_node_in_range(
      this.mm,
      tmp,
      op.size,
      op.alignment,
      op.color,
      rs,
      re,
      DRM_MM_INSERT_EVICT,
    );
    expect(err, "insert into the evicted hole failed").toBe(0);
    this.nodes.push(tmp);
    this.check("after evict insert");
  }

  evict(node: drm_mm_node): void {
    drm_mm_remove_node(node);
    this.nodes.splice(this.nodes.indexOf(node), 1);
  }
}

function runSetup(setup: Setup): Run {
  const run = new Run(setup);
  run.check("after init");
  for (const op of setup.ops) run.apply(op);
  return run;
}

describe("drm_mm properties", () => {
  it("keeps every invariant and agrees with a brute-force model", () => {
    fc.assert(
      fc.property(setupArb, (setup) => {
        runSetup(setup);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps every invariant with thousands of nodes", () => {
    let tallest = 0;
    let most = 0;
    fc.assert(
      fc.property(bigSetupArb, (setup) => {
        const run = new Run(setup);
        for (const op of setup.ops) {
          run.apply(op);
          tallest = Math.max(tallest, addrTreeHeight(run.mm.holes_addr));
          most = Math.max(most, run.nodes.length);
        }
      }),
      { numRuns: 16 },
    );
    // The runs did reach the sizes they are for.
    expect(most).toBeGreaterThan(1500);
    expect(tallest).toBeGreaterThanOrEqual(3);
  });

  it("replays a run exactly from a fixed seed", () => {
    const logs = (seed: number): string[] => {
      const out: string[] = [];
      fc.check(
        fc.property(setupArb, (setup) => {
          out.push(...runSetup(setup).log, "--");
        }),
        { seed, numRuns: 25 },
      );
      return out;
    };
    const first = logs(0x5eed);
    expect(first.length).toBeGreaterThan(25);
    expect(logs(0x5eed)).toEqual(first);
  });

  it("replays a failure from its printed seed and path", () => {
    // A deliberately false claim: no LOW insertion ever lands above address 100.
    const claim = fc.property(setupArb, (setup) => {
      const run = runSetup(setup);
      return run.nodes.every((node) => node.start + node.size <= 100);
    });
    const failure = fc.check(claim, { seed: 42, numRuns: 200 });
    expect(failure.failed).toBe(true);
    // The two values fast-check prints with a failure are enough to get the same shrunk
    // counterexample back.
    const replay = fc.check(claim, {
      seed: failure.seed,
      path: failure.counterexamplePath!,
      endOnFailure: true,
    });
    expect(replay.failed).toBe(true);
    expect(replay.counterexample).toEqual(failure.counterexample);
  });
});
