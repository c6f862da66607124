// Port of the drm_mm KUnit suite: drivers/gpu/drm/tests/drm_mm_test.c in its 19-case form (2022
// until "drm/tests: Remove slow tests", Oct 2023), with the semantics of the older selftests
// (drivers/gpu/drm/selftests/test-drm_mm.c). Each case keeps its upstream name and asserts what
// upstream asserts; failures carry upstream's messages.
//
// Adaptations, each repeated where it applies:
// - Module parameters. random_seed, max_iterations and max_prime are read from the environment
//   (DRM_MM_RANDOM_SEED, DRM_MM_MAX_ITERATIONS, DRM_MM_MAX_PRIME). The defaults are a fixed seed
//   and a quick profile (max_iterations 64, max_prime 32) so that this file runs in a few
//   seconds; upstream's defaults (8192 and 128) are the "full" profile and pass too. The seed
//   is printed, as the kernel's suite_init does, and a seeded xorshift generator replaces
//   prandom, so every run with the same seed is identical.
// - Address width. Addresses are JS numbers up to DRM_MM_ADDR_MAX = 2^53 - 1 instead of u64.
//   Size sweeps that reach 2^63 upstream stop at the largest exponent that fits, U64_MAX becomes
//   DRM_MM_ADDR_MAX, align64 aligns up to 2^52 (the largest power of two below the limit), and
//   the reserve boundaries written as "-x" (u64 wraparound) use 2^53 - x.
// - frag's "no more than 4x slower" timing check is left out of the test run; bench/drm_mm.ts
//   measures it. The case still checks that every fragmented insertion succeeds.
// - The evict and color-evict cases use min(8192, 32 * max_iterations) nodes instead of a fixed
//   8192, again for run time; the full profile restores 8192.

import { describe, expect, it } from "vitest";
import {
  __drm_mm_interval_first,
  DRM_MM_ADDR_MAX,
  DRM_MM_INSERT_BEST,
  DRM_MM_INSERT_EVICT,
  DRM_MM_INSERT_HIGH,
  DRM_MM_INSERT_LOW,
  DRM_MM_INSERT_LOWEST,
  DRM_MM_INSERT_ONCE,
  DrmMmBug,
  drm_mm,
  drm_mm_clean,
  drm_mm_for_each_hole,
  drm_mm_for_each_node,
  drm_mm_for_each_node_in_range,
  drm_mm_for_each_node_safe,
  drm_mm_hole_follows,
  drm_mm_hole_node_end,
  drm_mm_init,
  drm_mm_initialized,
  type drm_mm_insert_mode,
  drm_mm_insert_node,
  drm_mm_insert_node_generic,
  drm_mm_insert_node_in_range,
  drm_mm_node,
  drm_mm_node_allocated,
  drm_mm_print,
  drm_mm_remove_node,
  drm_mm_replace_node,
  drm_mm_reserve_node,
  drm_mm_scan,
  drm_mm_scan_add_block,
  drm_mm_scan_color_evict,
  drm_mm_scan_init,
  drm_mm_scan_init_with_range,
  drm_mm_scan_remove_block,
  drm_mm_takedown,
  EINVAL,
  ENOSPC,
  type HoleBounds,
  nextNode,
} from "../../src/drm_mm/drm_mm.js";
import { drm_mm_check_invariants } from "../../src/drm_mm/drm_mm_checker.js";

// ------------------------------------------------------------------------------------------
// Module parameters and the seeded generator.

function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  return text === undefined || text === "" ? fallback : Number(text);
}

const random_seed = envInt("DRM_MM_RANDOM_SEED", 0x5eed_d12a) >>> 0 || 1;
const max_iterations = envInt("DRM_MM_MAX_ITERATIONS", 64);
const max_prime = envInt("DRM_MM_MAX_PRIME", 32);
const evict_size = Math.min(8192, 32 * max_iterations);

console.info(
  `Testing DRM range manager, with random_seed=0x${random_seed.toString(16)} ` +
    `max_iterations=${max_iterations} max_prime=${max_prime} ` +
    "(rerun with DRM_MM_RANDOM_SEED, DRM_MM_MAX_ITERATIONS, DRM_MM_MAX_PRIME)",
);

/** xorshift32 (Marsaglia): a deterministic stand-in for the kernel's prandom state. */
class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  u32(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  /** drm_prandom_u32_max_state: uniform in [0, max). */
  below(max: number): number {
    return Math.floor((this.u32() * max) / 2 ** 32);
  }
}

/** DRM_RND_STATE(prng, random_seed): every case starts from the module seed. */
function DRM_RND_STATE(): Prng {
  return new Prng(random_seed);
}

/** drm_random_reorder: swaps each entry with a random one (biased, as upstream). */
function drm_random_reorder(order: number[], count: number, prng: Prng): void {
  for (let i = 0; i < count; i++) {
    const j = prng.below(count);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
}

function drm_random_order(count: number, prng: Prng): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  drm_random_reorder(order, count, prng);
  return order;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

function next_prime_number(n: number): number {
  let p = n + 1;
  while (!isPrime(p)) p++;
  return p;
}

/** for_each_prime_number_from(p, from, max): from itself, then the primes above it, <= max. */
function primesFrom(from: number, max: number): number[] {
  const out: number[] = [];
  for (let p = from; p <= max; p = next_prime_number(p)) out.push(p);
  return out;
}

/** for_each_prime_number(p, max). */
function primes(max: number): number[] {
  return primesFrom(2, max);
}

// ------------------------------------------------------------------------------------------
// Upstream's assertion helpers. KUNIT_FAIL aborts the case, so they throw instead of returning
// false, and no error path needs cleanup.

function KUNIT_FAIL(message: string): never {
  throw new Error(message);
}

const insert_modes: ReadonlyArray<{ name: string; mode: drm_mm_insert_mode }> = [
  { name: "best", mode: DRM_MM_INSERT_BEST },
  { name: "bottom-up", mode: DRM_MM_INSERT_LOW },
  { name: "top-down", mode: DRM_MM_INSERT_HIGH },
  { name: "evict", mode: DRM_MM_INSERT_EVICT },
];
const BEST = insert_modes[0]!;
const BOTTOMUP = insert_modes[1]!;
const TOPDOWN = insert_modes[2]!;
const evict_modes = [BOTTOMUP, TOPDOWN];

function hex(x: number): string {
  return x.toString(16);
}

function assert_invariants(mm: drm_mm): void {
  const problems = drm_mm_check_invariants(mm);
  if (problems.length > 0) KUNIT_FAIL(`drm_mm invariants broken:\n${problems.join("\n")}`);
}

function assert_no_holes(mm: drm_mm): void {
  let count = 0;
  for (const _ of drm_mm_for_each_hole(mm)) count++;
  if (count !== 0) {
    KUNIT_FAIL(`Expected to find no holes (after reserve), found ${count} instead`);
  }
  for (const node of drm_mm_for_each_node(mm)) {
    if (drm_mm_hole_follows(node)) KUNIT_FAIL("Hole follows node, expected none!");
  }
}

function assert_one_hole(mm: drm_mm, start: number, end: number): void {
  if (end <= start) return;
  let count = 0;
  for (const { hole_start, hole_end } of drm_mm_for_each_hole(mm)) {
    if (start !== hole_start || end !== hole_end) {
      KUNIT_FAIL(
        `empty mm has incorrect hole, found (${hex(hole_start)}, ${hex(hole_end)}), ` +
          `expect (${hex(start)}, ${hex(end)})`,
      );
    }
    count++;
  }
  if (count !== 1) KUNIT_FAIL(`Expected to find one hole, found ${count} instead`);
}

function assert_continuous(mm: drm_mm, size: number): void {
  assert_no_holes(mm);
  let n = 0;
  let addr = 0;
  for (const node of drm_mm_for_each_node(mm)) {
    if (node.start !== addr) {
      KUNIT_FAIL(`node[${n}] list out of order, expected ${hex(addr)} found ${hex(node.start)}`);
    }
    if (node.size !== size) {
      KUNIT_FAIL(`node[${n}].size incorrect, expected ${hex(size)}, found ${hex(node.size)}`);
    }
    if (drm_mm_hole_follows(node)) KUNIT_FAIL(`node[${n}] is followed by a hole!`);
    let found: drm_mm_node | null = null;
    for (const check of drm_mm_for_each_node_in_range(mm, addr, addr + size)) {
      if (node !== check) {
        KUNIT_FAIL(
          `lookup return wrong node, expected start ${hex(node.start)}, found ${hex(check.start)}`,
        );
      }
      found = check;
    }
    if (found === null) KUNIT_FAIL(`lookup failed for node ${hex(addr)} + ${hex(size)}`);
    addr += size;
    n++;
  }
}

function misalignment(node: drm_mm_node, alignment: number): number {
  return alignment === 0 ? 0 : node.start % alignment;
}

function assert_node(
  node: drm_mm_node,
  mm: drm_mm,
  size: number,
  alignment: number,
  color: number,
): void {
  if (!drm_mm_node_allocated(node) || node.mm !== mm) KUNIT_FAIL("node not allocated");
  if (node.size !== size) {
    KUNIT_FAIL(`node has wrong size, found ${node.size}, expected ${size}`);
  }
  if (misalignment(node, alignment) !== 0) {
    KUNIT_FAIL(
      `node is misaligned, start ${hex(node.start)} rem ${misalignment(node, alignment)}, ` +
        `expected alignment ${alignment}`,
    );
  }
  if (node.color !== color) {
    KUNIT_FAIL(`node has wrong color, found ${node.color}, expected ${color}`);
  }
}

function set_node(node: drm_mm_node, start: number, size: number): drm_mm_node {
  node.start = start;
  node.size = size;
  return node;
}

function expect_reserve_fail(mm: drm_mm, node: drm_mm_node): void {
  const err = drm_mm_reserve_node(mm, node);
  if (err === -ENOSPC) return;
  if (err === 0) {
    KUNIT_FAIL(`impossible reserve succeeded, node ${node.start} + ${node.size}`);
  }
  KUNIT_FAIL(
    `impossible reserve failed with wrong error ${err} [expected ${-ENOSPC}], ` +
      `node ${node.start} + ${node.size}`,
  );
}

function expect_insert(
  mm: drm_mm,
  node: drm_mm_node,
  size: number,
  alignment: number,
  color: number,
  mode: (typeof insert_modes)[number],
): void {
  const err = drm_mm_insert_node_generic(mm, node, size, alignment, color, mode.mode);
  if (err !== 0) {
    KUNIT_FAIL(
      `insert (size=${size}, alignment=${alignment}, color=${color}, mode=${mode.name}) ` +
        `failed with err=${err}`,
    );
  }
  assert_node(node, mm, size, alignment, color);
}

function expect_insert_fail(mm: drm_mm, size: number): void {
  const tmp = new drm_mm_node();
  const err = drm_mm_insert_node(mm, tmp, size);
  if (err === -ENOSPC) return;
  if (err === 0) KUNIT_FAIL(`impossible insert succeeded, node ${tmp.start} + ${tmp.size}`);
  KUNIT_FAIL(
    `impossible insert failed with wrong error ${err} [expected ${-ENOSPC}], size ${size}`,
  );
}

function expect_insert_in_range(
  mm: drm_mm,
  node: drm_mm_node,
  size: number,
  alignment: number,
  color: number,
  range_start: number,
  range_end: number,
  mode: (typeof insert_modes)[number],
): void {
  const err = drm_mm_insert_node_in_range(
    mm,
    node,
    size,
    alignment,
    color,
    range_start,
    range_end,
    mode.mode,
  );
  if (err !== 0) {
    KUNIT_FAIL(
      `insert (size=${size}, alignment=${alignment}, color=${color}, mode=${mode.name}) ` +
        `nto range [${hex(range_start)}, ${hex(range_end)}] failed with err=${err}`,
    );
  }
  assert_node(node, mm, size, alignment, color);
}

function expect_insert_in_range_fail(
  mm: drm_mm,
  size: number,
  range_start: number,
  range_end: number,
): void {
  const tmp = new drm_mm_node();
  const err = drm_mm_insert_node_in_range(mm, tmp, size, 0, 0, range_start, range_end, 0);
  if (err === -ENOSPC) return;
  if (err === 0) {
    KUNIT_FAIL(
      `impossible insert succeeded, node ${hex(tmp.start)} + ${tmp.size}, ` +
        `range [${hex(range_start)}, ${hex(range_end)}]`,
    );
  }
  KUNIT_FAIL(
    `impossible insert failed with wrong error ${err} [expected ${-ENOSPC}], size ${size}, ` +
      `range [${hex(range_start)}, ${hex(range_end)}]`,
  );
}

function remove_all(mm: drm_mm): void {
  for (const node of drm_mm_for_each_node_safe(mm)) drm_mm_remove_node(node);
  if (!drm_mm_clean(mm)) KUNIT_FAIL("mm not clean after removing every node");
}

function new_mm(start: number, size: number): drm_mm {
  const mm = new drm_mm();
  expect(drm_mm_init(mm, start, size)).toBe(0);
  return mm;
}

function new_nodes(count: number): drm_mm_node[] {
  return Array.from({ length: count }, () => new drm_mm_node());
}

/** The largest prime exponent p <= upTo with count * (2^p + extra) inside the address limit. */
function exponentsThatFit(upTo: number, count: number, extra: number): number[] {
  return primesFrom(1, upTo).filter((p) => count * (2 ** p + extra) <= DRM_MM_ADDR_MAX);
}

// ------------------------------------------------------------------------------------------
// reserve

/** The u64 value -x, scaled to this port's 2^53 address space. */
function neg(x: number): number {
  return 2 ** 53 - x;
}

function check_reserve_boundaries(mm: drm_mm, count: number, size: number): void {
  const boundaries: Array<[number, number, string]> = [
    [0, 0, "{ 0, 0 }"],
    [neg(size), 0, "{ -size, 0 }"],
    [size, 0, "{ size, 0 }"],
    [size * count, 0, "{ size * count, 0 }"],
    [neg(size), size, "{ -size, size }"],
    [neg(size), neg(size), "{ -size, -size }"],
    [neg(size), 2 * size, "{ -size, 2 * size }"],
    [0, neg(size), "{ 0, -size }"],
    [size, neg(size), "{ size, -size }"],
    [count * size, size, "{ count * size, size }"],
    [count * size, neg(size), "{ count * size, -size }"],
    [count * size, count * size, "{ count * size, count * size }"],
    [count * size, neg(count * size), "{ count * size, -count * size }"],
    [count * size, neg((count + 1) * size), "{ count * size, -(count + 1) * size }"],
    [(count + 1) * size, size, "{ (count + 1) * size, size }"],
    [(count + 1) * size, neg(size), "{ (count + 1) * size, -size }"],
    [(count + 1) * size, neg(2 * size), "{ (count + 1) * size, -2 * size }"],
  ];
  const tmp = new drm_mm_node();
  boundaries.forEach(([start, sz, name], n) => {
    try {
      expect_reserve_fail(mm, set_node(tmp, start, sz));
    } catch (e) {
      KUNIT_FAIL(
        `boundary[${n}:${name}] failed, count=${count}, size=${size}: ${(e as Error).message}`,
      );
    }
  });
}

function __drm_test_mm_reserve(count: number, size: number): void {
  const prng = DRM_RND_STATE();
  // For exercising drm_mm_reserve_node(), we want to check that reservations outside of the
  // drm_mm range are rejected, and to overlapping and otherwise already occupied ranges.
  // Afterwards, the tree and nodes should be intact.
  const order = drm_random_order(count, prng);
  const nodes = new_nodes(count);
  const mm = new_mm(0, count * size);
  check_reserve_boundaries(mm, count, size);

  for (let n = 0; n < count; n++) {
    const node = set_node(nodes[n]!, order[n]! * size, size);
    if (drm_mm_reserve_node(mm, node) !== 0) {
      KUNIT_FAIL(`reserve failed, step ${n}, start ${node.start}`);
    }
    if (!drm_mm_node_allocated(node)) {
      KUNIT_FAIL(`reserved node not allocated! step ${n}, start ${node.start}`);
    }
    expect_reserve_fail(mm, node);
  }
  // After random insertion the nodes should be in order.
  assert_continuous(mm, size);

  // Repeated use should then fail.
  drm_random_reorder(order, count, prng);
  const tmp = new drm_mm_node();
  for (let n = 0; n < count; n++) {
    expect_reserve_fail(mm, set_node(tmp, order[n]! * size, 1));
    // Remove and reinsert should work.
    const node = nodes[order[n]!]!;
    drm_mm_remove_node(node);
    if (drm_mm_reserve_node(mm, node) !== 0) {
      KUNIT_FAIL(`reserve failed, step ${n}, start ${node.start}`);
    }
  }
  assert_continuous(mm, size);

  // Overlapping use should then fail.
  for (let n = 0; n < count; n++) expect_reserve_fail(mm, set_node(tmp, 0, size * count));
  for (let n = 0; n < count; n++) {
    expect_reserve_fail(mm, set_node(tmp, size * n, size * (count - n)));
  }

  // Remove several, reinsert, check full.
  let o = 0;
  for (const n of primes(Math.min(max_prime, count))) {
    for (let m = 0; m < n; m++) drm_mm_remove_node(nodes[order[(o + m) % count]!]!);
    for (let m = 0; m < n; m++) {
      const node = nodes[order[(o + m) % count]!]!;
      if (drm_mm_reserve_node(mm, node) !== 0) {
        KUNIT_FAIL(`reserve failed, step ${m}/${n}, start ${node.start}`);
      }
    }
    o += n;
    assert_continuous(mm, size);
  }
  assert_invariants(mm);
  remove_all(mm);
  drm_mm_takedown(mm);
}

// ------------------------------------------------------------------------------------------
// insert and replace

function __drm_test_mm_insert(count: number, size: number, replace: boolean): void {
  const prng = DRM_RND_STATE();
  // Fill a range with lots of nodes, check it doesn't fail too early.
  const nodes = new_nodes(count);
  const order = drm_random_order(count, prng);
  const mm = new_mm(0, count * size);
  let o = 0;

  for (const mode of insert_modes) {
    for (let n = 0; n < count; n++) {
      const node = replace ? new drm_mm_node() : nodes[n]!;
      expect_insert(mm, node, size, 0, n, mode);
      if (replace) {
        const target = nodes[n]!;
        drm_mm_replace_node(node, target);
        if (drm_mm_node_allocated(node)) {
          KUNIT_FAIL(`replaced old-node still allocated! step ${n}`);
        }
        assert_node(target, mm, size, 0, n);
        if (node.start !== target.start) {
          KUNIT_FAIL(
            `replaced node mismatch location expected [${hex(node.start)} + ${hex(size)}], ` +
              `found [${hex(target.start)} + ${hex(target.size)}]`,
          );
        }
      }
    }

    // After random insertion the nodes should be in order.
    assert_continuous(mm, size);
    // Repeated use should then fail.
    expect_insert_fail(mm, size);

    // Remove one and reinsert, as the only hole it should refill itself.
    for (let n = 0; n < count; n++) {
      const node = nodes[n]!;
      const addr = node.start;
      drm_mm_remove_node(node);
      expect_insert(mm, node, size, 0, n, mode);
      if (node.start !== addr) {
        KUNIT_FAIL(
          `${mode.name} reinsert node moved, step ${n}, expected ${hex(addr)}, ` +
            `found ${hex(node.start)}`,
        );
      }
      assert_continuous(mm, size);
    }

    // Remove several, reinsert, check full.
    for (const n of primes(Math.min(max_prime, count))) {
      for (let m = 0; m < n; m++) drm_mm_remove_node(nodes[order[(o + m) % count]!]!);
      for (let m = 0; m < n; m++) {
        expect_insert(mm, nodes[order[(o + m) % count]!]!, size, 0, n, mode);
      }
      o += n;
      assert_continuous(mm, size);
      expect_insert_fail(mm, size);
    }
    assert_invariants(mm);
    remove_all(mm);
  }
  drm_mm_takedown(mm);
}

// ------------------------------------------------------------------------------------------
// insert_range

function assert_contiguous_in_range(mm: drm_mm, size: number, start: number, end: number): void {
  expect_insert_in_range_fail(mm, size, start, end);
  let n = Math.floor((start + size - 1) / size);
  for (const node of drm_mm_for_each_node(mm)) {
    if (node.start < start || node.start + node.size > end) {
      KUNIT_FAIL(
        `node ${n} out of range, address [${hex(node.start)} + ${node.start + node.size}], ` +
          `range [${hex(start)}, ${hex(end)}]`,
      );
    }
    if (node.start !== n * size) {
      KUNIT_FAIL(
        `node ${n} out of order, expected start ${hex(n * size)}, found ${hex(node.start)}`,
      );
    }
    if (node.size !== size) {
      KUNIT_FAIL(`node ${n} has wrong size, expected size ${hex(size)}, found ${hex(node.size)}`);
    }
    if (drm_mm_hole_follows(node) && drm_mm_hole_node_end(node) < end) {
      KUNIT_FAIL(`node ${n} is followed by a hole!`);
    }
    n++;
  }
  if (start > 0) {
    const node = __drm_mm_interval_first(mm, 0, start - 1);
    if (drm_mm_node_allocated(node)) {
      KUNIT_FAIL(`node before start: node=${hex(node.start)}+${node.size}, start=${hex(start)}`);
    }
  }
  if (end < DRM_MM_ADDR_MAX) {
    const node = __drm_mm_interval_first(mm, end, DRM_MM_ADDR_MAX);
    if (drm_mm_node_allocated(node)) {
      KUNIT_FAIL(`node after end: node=${hex(node.start)}+${node.size}, end=${hex(end)}`);
    }
  }
}

function __drm_test_mm_insert_range(count: number, size: number, start: number, end: number) {
  // Very similar to __drm_test_mm_insert(), but now instead of populating the full range of
  // the drm_mm, we try to fill a small portion of it.
  const nodes = new_nodes(count);
  const mm = new_mm(0, count * size);
  const start_n = Math.floor((start + size - 1) / size);
  const end_n = Math.floor((end - size) / size);

  for (const mode of insert_modes) {
    for (let n = start_n; n <= end_n; n++) {
      expect_insert_in_range(mm, nodes[n]!, size, size, n, start, end, mode);
    }
    assert_contiguous_in_range(mm, size, start, end);

    // Remove one and reinsert, it should refill itself.
    for (let n = start_n; n <= end_n; n++) {
      const node = nodes[n]!;
      const addr = node.start;
      drm_mm_remove_node(node);
      expect_insert_in_range(mm, node, size, size, n, start, end, mode);
      if (node.start !== addr) {
        KUNIT_FAIL(
          `${mode.name} reinsert node moved, step ${n}, expected ${hex(addr)}, ` +
            `found ${hex(node.start)}`,
        );
      }
    }
    assert_contiguous_in_range(mm, size, start, end);
    assert_invariants(mm);
    remove_all(mm);
  }
  drm_mm_takedown(mm);
}

function insert_outside_range(): void {
  const start = 1024;
  const end = 2048;
  const size = end - start;
  const mm = new_mm(start, size);
  expect_insert_in_range_fail(mm, 1, 0, start);
  expect_insert_in_range_fail(mm, size, start - size / 2, start + Math.floor((size + 1) / 2));
  expect_insert_in_range_fail(mm, size, end - Math.floor((size + 1) / 2), end + size / 2);
  expect_insert_in_range_fail(mm, 1, end, end + size);
  drm_mm_takedown(mm);
}

// ------------------------------------------------------------------------------------------
// align

function drm_test_mm_align_pot(max: number): void {
  // Check that we can align to the full address space.
  const mm = new_mm(1, DRM_MM_ADDR_MAX - 2);
  for (let bit = max - 1; bit > 0; bit--) {
    const align = 2 ** bit;
    const size = 2 ** (bit - 1) + 1;
    const node = new drm_mm_node();
    try {
      expect_insert(mm, node, size, align, bit, BEST);
    } catch (e) {
      KUNIT_FAIL(`insert failed with alignment=${hex(align)} [${bit}]: ${(e as Error).message}`);
    }
  }
  assert_invariants(mm);
  remove_all(mm);
  drm_mm_takedown(mm);
}

// ------------------------------------------------------------------------------------------
// evict

function show_scan(scan: drm_mm_scan): string {
  return (
    `scan: hit [${hex(scan.hit_start)}, ${hex(scan.hit_end)}], size=${scan.size}, ` +
    `align=${scan.alignment}, color=${scan.color}`
  );
}

function evict_nodes(
  scan: drm_mm_scan,
  nodes: readonly drm_mm_node[],
  order: readonly number[] | null,
  count: number,
  use_color: boolean,
): drm_mm_node[] {
  const added: drm_mm_node[] = [];
  for (let i = 0; i < count; i++) {
    const node = nodes[order === null ? i : order[i]!]!;
    added.push(node);
    if (drm_mm_scan_add_block(scan, node)) break;
  }
  // Walk the roster backwards, as list_add() plus list_for_each() does upstream.
  const evict_list: drm_mm_node[] = [];
  for (let i = added.length - 1; i >= 0; i--) {
    if (drm_mm_scan_remove_block(scan, added[i]!)) evict_list.push(added[i]!);
  }
  if (evict_list.length === 0) {
    KUNIT_FAIL(
      `Failed to find eviction: size=${scan.size} [avail=${count}], align=${scan.alignment} ` +
        `(color=${scan.color})`,
    );
  }
  for (const node of evict_list) drm_mm_remove_node(node);

  if (use_color) {
    for (let node = drm_mm_scan_color_evict(scan); node; node = drm_mm_scan_color_evict(scan)) {
      drm_mm_remove_node(node);
      evict_list.unshift(node);
    }
  } else if (drm_mm_scan_color_evict(scan) !== null) {
    KUNIT_FAIL("drm_mm_scan_color_evict unexpectedly reported overlapping nodes!");
  }
  return evict_list;
}

function evict_nothing(mm: drm_mm, total_size: number, nodes: readonly drm_mm_node[]): void {
  const scan = new drm_mm_scan();
  drm_mm_scan_init(scan, mm, 1, 0, 0, 0);
  for (let n = 0; n < total_size; n++) drm_mm_scan_add_block(scan, nodes[n]!);
  assert_invariants(mm);
  for (let n = total_size - 1; n >= 0; n--) drm_mm_scan_remove_block(scan, nodes[n]!);

  for (let n = 0; n < total_size; n++) {
    if (!drm_mm_node_allocated(nodes[n]!)) KUNIT_FAIL(`node[${n}] no longer allocated!`);
  }
  const connected = new Set(drm_mm_for_each_node(mm));
  for (let n = 0; n < total_size; n++) {
    if (!connected.has(nodes[n]!)) KUNIT_FAIL(`node[${n}] no longer connected!`);
  }
  assert_continuous(mm, nodes[0]!.size);
}

function evict_everything(mm: drm_mm, total_size: number, nodes: readonly drm_mm_node[]): void {
  const scan = new drm_mm_scan();
  drm_mm_scan_init(scan, mm, total_size, 0, 0, 0);
  const added: drm_mm_node[] = [];
  for (let n = 0; n < total_size; n++) {
    added.push(nodes[n]!);
    if (drm_mm_scan_add_block(scan, nodes[n]!)) break;
  }
  const evict_list = added.reverse();
  for (const node of evict_list) {
    if (!drm_mm_scan_remove_block(scan, node)) {
      KUNIT_FAIL(`Node ${node.start} not marked for eviction!`);
    }
  }
  for (const node of evict_list) drm_mm_remove_node(node);
  assert_one_hole(mm, 0, total_size);
  for (const node of evict_list) {
    if (drm_mm_reserve_node(mm, node) !== 0) {
      KUNIT_FAIL(`Failed to reinsert node after eviction: start=${hex(node.start)}`);
    }
  }
  assert_continuous(mm, nodes[0]!.size);
}

function evict_something(
  mm: drm_mm,
  range_start: number,
  range_end: number,
  nodes: readonly drm_mm_node[],
  order: readonly number[],
  count: number,
  size: number,
  alignment: number,
  mode: (typeof insert_modes)[number],
): void {
  const scan = new drm_mm_scan();
  drm_mm_scan_init_with_range(scan, mm, size, alignment, 0, range_start, range_end, mode.mode);
  const evict_list = evict_nodes(scan, nodes, order, count, false);

  const tmp = new drm_mm_node();
  const err = drm_mm_insert_node_generic(mm, tmp, size, alignment, 0, DRM_MM_INSERT_EVICT);
  if (err !== 0) {
    KUNIT_FAIL(
      `Failed to insert into eviction hole: size=${size}, align=${alignment}\n${show_scan(scan)}`,
    );
  }
  if (tmp.start < range_start || tmp.start + tmp.size > range_end) {
    KUNIT_FAIL(
      `Inserted [address=${tmp.start} + ${tmp.size}] did not fit into the request range ` +
        `[${range_start}, ${range_end}]`,
    );
  }
  assert_node(tmp, mm, size, alignment, 0);
  if (drm_mm_hole_follows(tmp)) {
    KUNIT_FAIL(
      `Inserted did not fill the eviction hole: size=${tmp.size} [${size}], align=${alignment} ` +
        `[rem=${misalignment(tmp, alignment)}], start=${hex(tmp.start)}, hole-follows?=1`,
    );
  }
  drm_mm_remove_node(tmp);

  for (const node of evict_list) {
    if (drm_mm_reserve_node(mm, node) !== 0) {
      KUNIT_FAIL(`Failed to reinsert node after eviction: start=${hex(node.start)}`);
    }
  }
  assert_continuous(mm, nodes[0]!.size);
}

function fill_unit_nodes(mm: drm_mm, nodes: readonly drm_mm_node[]): void {
  nodes.forEach((node, n) => {
    if (drm_mm_insert_node(mm, node, 1) !== 0) KUNIT_FAIL(`insert failed, step ${n}`);
  });
}

// ------------------------------------------------------------------------------------------
// topdown / bottomup

function node_index(node: drm_mm_node): number {
  return Math.floor(node.start / node.size);
}

function find_first_bit(bitmap: Uint8Array): number {
  const i = bitmap.indexOf(1);
  return i < 0 ? bitmap.length : i;
}

function find_last_bit(bitmap: Uint8Array): number {
  const i = bitmap.lastIndexOf(1);
  return i < 0 ? bitmap.length : i;
}

function drm_test_mm_updown(mode: (typeof insert_modes)[number]): void {
  const topdown = mode === TOPDOWN;
  const prng = DRM_RND_STATE();
  const count = 8192;
  const nodes = new_nodes(count);
  const bitmap = new Uint8Array(count);
  const order = drm_random_order(count, prng);
  let o = 0;

  for (let size = 1; size <= 64; size <<= 1) {
    const mm = new_mm(0, size * count);
    for (let n = 0; n < count; n++) {
      const node = nodes[n]!;
      expect_insert(mm, node, size, 0, n, mode);
      if (topdown) {
        if (drm_mm_hole_follows(node)) {
          KUNIT_FAIL(`hole after topdown insert ${n}, start=${hex(node.start)}, size=${size}`);
        }
        assert_one_hole(mm, 0, size * (count - n - 1));
      } else {
        assert_one_hole(mm, size * (n + 1), size * count);
      }
    }
    assert_continuous(mm, size);

    drm_random_reorder(order, count, prng);
    for (const n of primesFrom(1, Math.min(count, max_prime))) {
      for (let m = 0; m < n; m++) {
        const node = nodes[order[(o + m) % count]!]!;
        drm_mm_remove_node(node);
        bitmap[node_index(node)] = 1;
      }
      for (let m = 0; m < n; m++) {
        const node = nodes[order[(o + m) % count]!]!;
        expect_insert(mm, node, size, 0, 0, mode);
        if (topdown) {
          if (drm_mm_hole_follows(node)) {
            KUNIT_FAIL(`hole after topdown insert ${m}/${n}, start=${hex(node.start)}`);
          }
          const last = find_last_bit(bitmap);
          if (node_index(node) !== last) {
            KUNIT_FAIL(
              `node ${m}/${n}, size ${size}, not inserted into upmost hole, expected ${last}, ` +
                `found ${node_index(node)}`,
            );
          }
          bitmap[last] = 0;
        } else {
          const first = find_first_bit(bitmap);
          if (node_index(node) !== first) {
            KUNIT_FAIL(
              `node ${m}/${n} not inserted into bottom hole, expected ${first}, ` +
                `found ${node_index(node)}`,
            );
          }
          bitmap[first] = 0;
        }
      }
      if (find_first_bit(bitmap) !== count) KUNIT_FAIL("bitmap not empty after reinsertion");
      o += n;
    }
    assert_invariants(mm);
    remove_all(mm);
    drm_mm_takedown(mm);
  }
}

// ------------------------------------------------------------------------------------------
// lowest / highest

function drm_test_mm_once(mode: drm_mm_insert_mode): void {
  const mm = new_mm(0, 7);
  const rsvd_lo = set_node(new drm_mm_node(), 1, 1);
  if (drm_mm_reserve_node(mm, rsvd_lo) !== 0) KUNIT_FAIL("Could not reserve low node");
  const rsvd_hi = set_node(new drm_mm_node(), 5, 1);
  if (drm_mm_reserve_node(mm, rsvd_hi) !== 0) KUNIT_FAIL("Could not reserve low node");
  if (!drm_mm_hole_follows(rsvd_lo) || !drm_mm_hole_follows(rsvd_hi)) {
    KUNIT_FAIL("Expected a hole after lo and high nodes!");
  }
  const node = new drm_mm_node();
  if (drm_mm_insert_node_generic(mm, node, 2, 0, 0, mode) !== 0) {
    KUNIT_FAIL("Could not insert the node into the available hole!");
  }
  drm_mm_remove_node(node);
  drm_mm_remove_node(rsvd_hi);
  drm_mm_remove_node(rsvd_lo);
  drm_mm_takedown(mm);
}

// ------------------------------------------------------------------------------------------
// color

// Vitest rewrites every use of an imported binding into a getter call. The color callback runs
// millions of times (BEST walks every too-small hole), so it reads local copies instead.
const allocated = drm_mm_node_allocated;
const next_node = nextNode;

/** i915-style guard: a gap of one between neighbours of different colors. */
function separate_adjacent_colors(node: drm_mm_node, color: number, bounds: HoleBounds): void {
  if (allocated(node) && node.color !== color) ++bounds.start;
  const next = next_node(node);
  if (allocated(next) && next.color !== color) --bounds.end;
}

function colors_abutt(node: drm_mm_node): void {
  const next = nextNode(node);
  if (!drm_mm_hole_follows(node) && drm_mm_node_allocated(next)) {
    KUNIT_FAIL(
      `colors abutt; ${node.color} [${hex(node.start)} + ${hex(node.size)}] is next to ` +
        `${next.color} [${hex(next.start)} + ${hex(next.size)}]!`,
    );
  }
}

function evict_color(
  mm: drm_mm,
  range_start: number,
  range_end: number,
  nodes: readonly drm_mm_node[],
  order: readonly number[],
  count: number,
  size: number,
  alignment: number,
  color: number,
  mode: (typeof insert_modes)[number],
): void {
  const scan = new drm_mm_scan();
  drm_mm_scan_init_with_range(scan, mm, size, alignment, color, range_start, range_end, mode.mode);
  const evict_list = evict_nodes(scan, nodes, order, count, true);

  const tmp = new drm_mm_node();
  const err = drm_mm_insert_node_generic(mm, tmp, size, alignment, color, DRM_MM_INSERT_EVICT);
  if (err !== 0) {
    KUNIT_FAIL(
      `Failed to insert into eviction hole: size=${size}, align=${alignment}, color=${color}, ` +
        `err=${err}\n${show_scan(scan)}`,
    );
  }
  if (tmp.start < range_start || tmp.start + tmp.size > range_end) {
    KUNIT_FAIL(
      `Inserted [address=${tmp.start} + ${tmp.size}] did not fit into the request range ` +
        `[${range_start}, ${range_end}]`,
    );
  }
  colors_abutt(tmp);
  assert_node(tmp, mm, size, alignment, color);
  drm_mm_remove_node(tmp);

  for (const node of evict_list) {
    if (drm_mm_reserve_node(mm, node) !== 0) {
      KUNIT_FAIL(`Failed to reinsert node after eviction: start=${hex(node.start)}`);
    }
  }
}

function color_evict_mm(total_size: number): { mm: drm_mm; nodes: drm_mm_node[]; color: number } {
  const mm = new_mm(0, 2 * total_size - 1);
  mm.color_adjust = separate_adjacent_colors;
  const nodes = new_nodes(total_size);
  let color = 0;
  for (const node of nodes) expect_insert(mm, node, 1, 0, color++, BEST);
  return { mm, nodes, color };
}

// ------------------------------------------------------------------------------------------
// The suite.

describe("drm_mm", () => {
  it("drm_test_mm_init", () => {
    const size = 4096;
    // Start with some simple checks on initialising the struct drm_mm.
    const mm = new drm_mm();
    expect(drm_mm_initialized(mm), "zeroed mm claims to be initialized").toBe(false);

    // Upstream fills the struct with 0xff bytes before drm_mm_init(); the equivalent here is
    // overwriting every field with garbage, so that init must not read anything it left behind.
    for (const key of Object.keys(mm)) Reflect.set(mm, key, -1);
    expect(drm_mm_init(mm, 0, size)).toBe(0);
    expect(drm_mm_initialized(mm), "mm claims not to be initialized").toBe(true);
    expect(drm_mm_clean(mm), "mm not empty on creation").toBe(true);

    // After creation, it should all be one massive hole.
    assert_one_hole(mm, 0, size);

    const tmp = set_node(new drm_mm_node(), 0, size);
    expect(drm_mm_reserve_node(mm, tmp), "failed to reserve whole drm_mm").toBe(0);
    // After filling the range entirely, there should be no holes.
    assert_no_holes(mm);

    // And then after emptying it again, the massive hole should be back.
    drm_mm_remove_node(tmp);
    assert_one_hole(mm, 0, size);
    assert_invariants(mm);
    drm_mm_takedown(mm);
  });

  it("drm_test_mm_debug", () => {
    // Create a small drm_mm with a couple of nodes and a few holes, and check that the debug
    // iterator doesn't explode over a trivial drm_mm. Upstream only requires not crashing; the
    // port also pins the text, which must match upstream's drm_mm_print() byte for byte.
    const mm = new_mm(0, 4096);
    const nodes = new_nodes(2);
    set_node(nodes[0]!, 512, 1024);
    expect(drm_mm_reserve_node(mm, nodes[0]!), "failed to reserve node[0]").toBe(0);
    set_node(nodes[1]!, 4096 - 512 - 1024, 1024);
    expect(drm_mm_reserve_node(mm, nodes[1]!), "failed to reserve node[1]").toBe(0);

    let text = "";
    drm_mm_print(mm, { printfn: (s) => (text += s) });
    expect(text).toBe(
      [
        "0x0000000000000000-0x0000000000000200: 512: free",
        "0x0000000000000200-0x0000000000000600: 1024: used",
        "0x0000000000000600-0x0000000000000a00: 1024: free",
        "0x0000000000000a00-0x0000000000000e00: 1024: used",
        "0x0000000000000e00-0x0000000000001000: 512: free",
        "total: 4096, used 2048 free 2048",
        "",
      ].join("\n"),
    );
  });

  it("drm_test_mm_reserve", () => {
    // Upstream: sizes 2^p - 1, 2^p, 2^p + 1 for primes p up to 54 (mm sizes near 2^63).
    // Port: the primes p for which count * (2^p + 1) stays below DRM_MM_ADDR_MAX (p <= 41
    // for count 1024), which keeps the boundary checks at the top of the address space.
    const count = Math.min(2 ** 10, max_iterations);
    for (const p of exponentsThatFit(54, count, 1)) {
      const size = 2 ** p;
      __drm_test_mm_reserve(count, size - 1);
      __drm_test_mm_reserve(count, size);
      __drm_test_mm_reserve(count, size + 1);
    }
  });

  it("drm_test_mm_insert", () => {
    // Sizes as in drm_test_mm_reserve, scaled to the address limit the same way.
    const count = Math.min(2 ** 10, max_iterations);
    for (const p of exponentsThatFit(54, count, 1)) {
      const size = 2 ** p;
      __drm_test_mm_insert(count, size - 1, false);
      __drm_test_mm_insert(count, size, false);
      __drm_test_mm_insert(count, size + 1, false);
    }
  });

  it("drm_test_mm_replace", () => {
    // Reuse __drm_test_mm_insert to exercise replacement by inserting a dummy node, then
    // replacing it with the intended node. We want to check that the tree is intact and all
    // the information we need is carried across to the target node.
    const count = Math.min(2 ** 10, max_iterations);
    for (const p of exponentsThatFit(54, count, 1)) {
      const size = 2 ** p;
      __drm_test_mm_insert(count, size - 1, true);
      __drm_test_mm_insert(count, size, true);
      __drm_test_mm_insert(count, size + 1, true);
    }
  });

  it("drm_test_mm_insert_range", () => {
    // Check that requests outside the bounds of drm_mm are rejected.
    insert_outside_range();
    // Upstream: primes p up to 50, so max = count * 2^p reaches 2^63. Port: the primes for
    // which max stays below DRM_MM_ADDR_MAX.
    const count = Math.min(2 ** 13, max_iterations);
    for (const p of exponentsThatFit(50, count, 0)) {
      const size = 2 ** p;
      const max = count * size;
      __drm_test_mm_insert_range(count, size, 0, max);
      __drm_test_mm_insert_range(count, size, 1, max);
      __drm_test_mm_insert_range(count, size, 0, max - 1);
      __drm_test_mm_insert_range(count, size, 0, max / 2);
      __drm_test_mm_insert_range(count, size, max / 2, max);
      __drm_test_mm_insert_range(count, size, max / 4 + 1, (3 * max) / 4 - 1);
    }
  });

  it("drm_test_mm_frag", () => {
    // For BOTTOMUP and TOPDOWN, we first fragment the address space by freeing every other
    // node, then insert 10k and then 20k nodes that fit none of the small holes. Upstream
    // also fails if the 20k batch takes more than 4x the 10k one; that timing check lives in
    // bench/drm_mm.ts, where a noisy machine cannot fail the test run.
    const insert_size = 10000;
    const nodes = new_nodes(insert_size * 4);
    const mm = new_mm(1, DRM_MM_ADDR_MAX - 2);
    for (const mode of [BOTTOMUP, TOPDOWN]) {
      // prepare_frag
      for (let i = 0; i < insert_size; i++) expect_insert(mm, nodes[i]!, 4096, 0, i, mode);
      for (let i = 0; i < insert_size; i += 2) drm_mm_remove_node(nodes[i]!);
      // get_insert_time, untimed
      for (let i = 0; i < insert_size; i++) {
        expect_insert(mm, nodes[insert_size + i]!, 8192, 0, i, mode);
      }
      for (let i = 0; i < insert_size * 2; i++) {
        expect_insert(mm, nodes[insert_size * 2 + i]!, 8192, 0, i, mode);
      }
      assert_invariants(mm);
      remove_all(mm);
    }
    drm_mm_takedown(mm);
  });

  it("drm_test_mm_align", () => {
    // For each of the possible insertion modes, we pick a few arbitrary alignments and check
    // that the inserted node meets our requirements.
    const max_count = Math.min(8192, max_prime);
    const nodes = new_nodes(max_count);
    const mm = new_mm(1, DRM_MM_ADDR_MAX - 2);
    for (const mode of insert_modes) {
      let i = 0;
      for (const prime of primesFrom(1, max_count)) {
        const size = next_prime_number(prime);
        expect_insert(mm, nodes[i]!, size, prime, i, mode);
        i++;
      }
      assert_invariants(mm);
      remove_all(mm);
    }
    drm_mm_takedown(mm);
  });

  it("drm_test_mm_align32", () => {
    drm_test_mm_align_pot(32);
  });

  it("drm_test_mm_align64", () => {
    // Upstream aligns to 2^63 down to 2^1 in [1, U64_MAX - 2); the first node must land on
    // 2^63 and later ones must survive round-ups that overflow in the upper hole. The port's
    // address space ends at 2^53 - 1, so the same walk starts at 2^52.
    drm_test_mm_align_pot(53);
  });

  it("drm_test_mm_evict", () => {
    const prng = DRM_RND_STATE();
    // Here we populate a full drm_mm and then try and insert a new node by evicting other
    // nodes in a random order. The drm_mm_scan should pick the first matching hole it finds
    // from the random list. We repeat that for different allocation strategies, alignments
    // and sizes to try and stress the hole finder. (Upstream: 8192 nodes; see the header.)
    const size = evict_size;
    const nodes = new_nodes(size);
    const order = drm_random_order(size, prng);
    const mm = new_mm(0, size);
    fill_unit_nodes(mm, nodes);

    // First check that using the scanner doesn't break the mm.
    evict_nothing(mm, size, nodes);
    evict_everything(mm, size, nodes);

    for (const mode of evict_modes) {
      for (let n = 1; n <= size; n <<= 1) {
        drm_random_reorder(order, size, prng);
        evict_something(mm, 0, DRM_MM_ADDR_MAX, nodes, order, size, n, 1, mode);
      }
      for (let n = 1; n < size; n <<= 1) {
        drm_random_reorder(order, size, prng);
        evict_something(mm, 0, DRM_MM_ADDR_MAX, nodes, order, size, size / 2, n, mode);
      }
      for (const n of primesFrom(1, Math.min(size, max_prime))) {
        const nsize = Math.floor((size - n + 1) / 2);
        drm_random_reorder(order, size, prng);
        evict_something(mm, 0, DRM_MM_ADDR_MAX, nodes, order, size, nsize, n, mode);
      }
    }
    assert_invariants(mm);
    remove_all(mm);
    drm_mm_takedown(mm);
  });

  it("drm_test_mm_evict_range", () => {
    const prng = DRM_RND_STATE();
    // Like drm_test_mm_evict() but now we are limiting the search to a small portion of the
    // full drm_mm.
    const size = evict_size;
    const range_size = size / 2;
    const range_start = size / 4;
    const range_end = range_start + range_size;
    const nodes = new_nodes(size);
    const order = drm_random_order(size, prng);
    const mm = new_mm(0, size);
    fill_unit_nodes(mm, nodes);

    for (const mode of evict_modes) {
      for (let n = 1; n <= range_size; n <<= 1) {
        drm_random_reorder(order, size, prng);
        evict_something(mm, range_start, range_end, nodes, order, size, n, 1, mode);
      }
      for (let n = 1; n <= range_size; n <<= 1) {
        drm_random_reorder(order, size, prng);
        evict_something(mm, range_start, range_end, nodes, order, size, range_size / 2, n, mode);
      }
      for (const n of primesFrom(1, Math.min(range_size, max_prime))) {
        const nsize = Math.floor((range_size - n + 1) / 2);
        drm_random_reorder(order, size, prng);
        evict_something(mm, range_start, range_end, nodes, order, size, nsize, n, mode);
      }
    }
    assert_invariants(mm);
    remove_all(mm);
    drm_mm_takedown(mm);
  });

  it("drm_test_mm_topdown", () => {
    // When allocating top-down, we expect to be returned a node from a suitable hole at the
    // top of the drm_mm. We check that the returned node does match the highest available slot.
    drm_test_mm_updown(TOPDOWN);
  });

  it("drm_test_mm_bottomup", () => {
    // Like drm_test_mm_topdown, but instead of searching for the last hole, we search for the
    // first.
    drm_test_mm_updown(BOTTOMUP);
  });

  it("drm_test_mm_lowest", () => {
    drm_test_mm_once(DRM_MM_INSERT_LOW);
  });

  it("drm_test_mm_highest", () => {
    drm_test_mm_once(DRM_MM_INSERT_HIGH);
  });

  it("drm_test_mm_color", () => {
    // Color adjustment complicates everything. First we just check that when we insert a node
    // we apply any color_adjustment callback. The callback we use should ensure that there is
    // a gap between any two nodes, and so after each insertion we check that those holes are
    // inserted and that they are preserved.
    const count = Math.min(4096, max_iterations);
    const mm = new_mm(0, DRM_MM_ADDR_MAX);
    for (let n = 1; n <= count; n++) expect_insert(mm, new drm_mm_node(), n, 0, n, BEST);
    for (const node of drm_mm_for_each_node_safe(mm)) {
      if (node.color !== node.size) {
        KUNIT_FAIL(`invalid color stored: expected ${node.size}, found ${node.color}`);
      }
      drm_mm_remove_node(node);
    }

    // Now, let's start experimenting with applying a color callback.
    mm.color_adjust = separate_adjacent_colors;
    for (const mode of insert_modes) {
      const first = new drm_mm_node();
      first.size = 1 + 2 * count;
      first.color = first.size;
      if (drm_mm_reserve_node(mm, first) !== 0) KUNIT_FAIL("initial reserve failed!");
      let last = first.start + first.size;

      for (let n = 1; n <= count; n++) {
        const node = new drm_mm_node();
        node.start = last;
        node.size = n + count;
        node.color = node.size;
        if (drm_mm_reserve_node(mm, node) !== -ENOSPC) {
          KUNIT_FAIL(`reserve ${n} did not report color overlap!`);
        }
        node.start += n + 1;
        const rem = misalignment(node, n + count);
        node.start += n + count - rem;
        if (drm_mm_reserve_node(mm, node) !== 0) KUNIT_FAIL(`reserve ${n} failed`);
        last = node.start + node.size;
      }

      for (let n = 1; n <= count; n++) {
        try {
          expect_insert(mm, new drm_mm_node(), n, n, n, mode);
        } catch (e) {
          KUNIT_FAIL(`${mode.name} insert failed, step ${n}: ${(e as Error).message}`);
        }
      }
      assert_invariants(mm);

      for (const node of drm_mm_for_each_node_safe(mm)) {
        if (node.color !== node.size) {
          KUNIT_FAIL(
            `${mode.name} invalid color stored: expected ${node.size}, found ${node.color}`,
          );
        }
        colors_abutt(node);
        const rem = node.start % node.size;
        if (rem !== 0) {
          KUNIT_FAIL(
            `${mode.name} colored node misaligned, start=${hex(node.start)} expected ` +
              `alignment=${node.size} [rem=${rem}]`,
          );
        }
        drm_mm_remove_node(node);
      }
    }
    drm_mm_takedown(mm);
  });

  it("drm_test_mm_color_evict", () => {
    const prng = DRM_RND_STATE();
    // Check that the drm_mm_scan also honours color adjustment when choosing its victims to
    // create a hole. Our color_adjust does not allow two nodes to be placed together without an
    // intervening hole enlarging the set of victims that must be evicted.
    const total_size = evict_size;
    const order = drm_random_order(total_size, prng);
    const state = color_evict_mm(total_size);
    const { mm, nodes } = state;

    for (const mode of evict_modes) {
      for (let n = 1; n <= total_size; n <<= 1) {
        drm_random_reorder(order, total_size, prng);
        evict_color(mm, 0, DRM_MM_ADDR_MAX, nodes, order, total_size, n, 1, state.color++, mode);
      }
      for (let n = 1; n < total_size; n <<= 1) {
        drm_random_reorder(order, total_size, prng);
        const size = total_size / 2;
        evict_color(mm, 0, DRM_MM_ADDR_MAX, nodes, order, total_size, size, n, state.color++, mode);
      }
      for (const n of primesFrom(1, Math.min(total_size, max_prime))) {
        const nsize = Math.floor((total_size - n + 1) / 2);
        drm_random_reorder(order, total_size, prng);
        evict_color(
          mm,
          0,
          DRM_MM_ADDR_MAX,
          nodes,
          order,
          total_size,
          nsize,
          n,
          state.color++,
          mode,
        );
      }
    }
    assert_invariants(mm);
    remove_all(mm);
    drm_mm_takedown(mm);
  });

  it("drm_test_mm_color_evict_range", () => {
    const prng = DRM_RND_STATE();
    // Like drm_test_mm_color_evict(), but limited to small portion of the full drm_mm range.
    const total_size = evict_size;
    const range_size = total_size / 2;
    const range_start = total_size / 4;
    const range_end = range_start + range_size;
    const order = drm_random_order(total_size, prng);
    const state = color_evict_mm(total_size);
    const { mm, nodes } = state;
    const evict = (size: number, alignment: number, mode: (typeof insert_modes)[number]) =>
      evict_color(
        mm,
        range_start,
        range_end,
        nodes,
        order,
        total_size,
        size,
        alignment,
        state.color++,
        mode,
      );

    for (const mode of evict_modes) {
      for (let n = 1; n <= range_size; n <<= 1) {
        // Upstream quirk, kept: only the first range_size entries are reshuffled here.
        drm_random_reorder(order, range_size, prng);
        evict(n, 1, mode);
      }
      for (let n = 1; n < range_size; n <<= 1) {
        drm_random_reorder(order, total_size, prng);
        evict(range_size / 2, n, mode);
      }
      for (const n of primesFrom(1, Math.min(range_size, max_prime))) {
        drm_random_reorder(order, total_size, prng);
        evict(Math.floor((range_size - n + 1) / 2), n, mode);
      }
    }
    assert_invariants(mm);
    remove_all(mm);
    drm_mm_takedown(mm);
  });
});

// ------------------------------------------------------------------------------------------
// Port-specific cases: contracts this port adds or makes explicit.

describe("drm_mm port contracts", () => {
  it("drm_mm_takedown refuses an allocator that still has nodes, naming them", () => {
    const mm = new_mm(0, 4096);
    const node = set_node(new drm_mm_node(), 0x100, 0x200);
    expect(drm_mm_reserve_node(mm, node)).toBe(0);
    expect(() => drm_mm_takedown(mm)).toThrow(DrmMmBug);
    expect(() => drm_mm_takedown(mm)).toThrow(
      "Memory manager not clean during takedown.\nnode [00000100 + 00000200]: unknown owner",
    );
    // Refused means untouched: the node is still there and can be removed normally.
    expect(drm_mm_node_allocated(node)).toBe(true);
    assert_invariants(mm);
    drm_mm_remove_node(node);
    drm_mm_takedown(mm);
  });

  it("bad numbers get -EINVAL, never a silent wrong answer", () => {
    const bad = [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, DRM_MM_ADDR_MAX + 1];
    for (const x of bad) {
      expect(drm_mm_init(new drm_mm(), x, 16)).toBe(-EINVAL);
      expect(drm_mm_init(new drm_mm(), 0, x)).toBe(-EINVAL);
    }
    expect(drm_mm_init(new drm_mm(), 0, 0)).toBe(-EINVAL);
    expect(drm_mm_init(new drm_mm(), DRM_MM_ADDR_MAX, 1)).toBe(-EINVAL);

    const mm = new_mm(0, 4096);
    const node = new drm_mm_node();
    const insert = (size: number, align: number, color: number, rs: number, re: number, m = 0) =>
      drm_mm_insert_node_in_range(mm, node, size, align, color, rs, re, m);
    for (const x of bad) {
      expect(insert(x, 0, 0, 0, 4096)).toBe(-EINVAL);
      expect(insert(1, x, 0, 0, 4096)).toBe(-EINVAL);
      expect(insert(1, 0, x, 0, 4096)).toBe(-EINVAL);
      expect(insert(1, 0, 0, x, 4096)).toBe(-EINVAL);
      expect(insert(1, 0, 0, 0, x)).toBe(-EINVAL);
      expect(drm_mm_reserve_node(mm, set_node(new drm_mm_node(), x, 1))).toBe(-EINVAL);
      expect(drm_mm_reserve_node(mm, set_node(new drm_mm_node(), 0, x))).toBe(-EINVAL);
    }
    expect(insert(1, 0, 0, 10, 9)).toBe(-EINVAL);
    expect(insert(1, 0, 0, 0, 4096, 4)).toBe(-EINVAL);
    expect(insert(1, 0, 0, 0, 4096, 1.5)).toBe(-EINVAL);
    // Both spellings of a mode with ONCE are accepted.
    expect(insert(1, 0, 0, 0, 4096, DRM_MM_INSERT_LOW | DRM_MM_INSERT_ONCE)).toBe(0);
    drm_mm_remove_node(node);
    expect(insert(1, 0, 0, 0, 4096, DRM_MM_INSERT_LOWEST)).toBe(0);
    drm_mm_remove_node(node);
    // Empty requests and requests past the address limit are "no room", as upstream.
    expect(insert(0, 0, 0, 0, 4096)).toBe(-ENOSPC);
    expect(drm_mm_reserve_node(mm, set_node(new drm_mm_node(), DRM_MM_ADDR_MAX, 1))).toBe(-ENOSPC);

    const scan = new drm_mm_scan();
    expect(drm_mm_scan_init_with_range(scan, mm, 1, 0, 0, 10, 10, DRM_MM_INSERT_LOW)).toBe(-EINVAL);
    expect(drm_mm_scan_init_with_range(scan, mm, 11, 0, 0, 0, 10, DRM_MM_INSERT_LOW)).toBe(-EINVAL);
    expect(drm_mm_scan_init_with_range(scan, mm, 0, 0, 0, 0, 10, DRM_MM_INSERT_LOW)).toBe(-EINVAL);
    expect(drm_mm_scan_init(scan, mm, -1, 0, 0, DRM_MM_INSERT_LOW)).toBe(-EINVAL);
    assert_invariants(mm);
    drm_mm_takedown(mm);
  });

  it("BEST takes the most recently created of equally small holes", () => {
    // Holes [10, 20) and [40, 50), both of size 10; the one created last must win.
    for (const lastHole of [40, 10]) {
      const mm = new_mm(0, 100);
      const nodes = [
        set_node(new drm_mm_node(), 20, 20),
        set_node(new drm_mm_node(), lastHole === 40 ? 0 : 50, lastHole === 40 ? 10 : 50),
        set_node(new drm_mm_node(), lastHole === 40 ? 50 : 0, lastHole === 40 ? 50 : 10),
      ];
      for (const node of nodes) expect(drm_mm_reserve_node(mm, node)).toBe(0);
      expect([...drm_mm_for_each_hole(mm)].map((h) => h.hole_start)).toEqual([
        lastHole,
        50 - lastHole,
      ]);
      const node = new drm_mm_node();
      expect(drm_mm_insert_node(mm, node, 10)).toBe(0);
      expect(node.start).toBe(lastHole);
      drm_mm_remove_node(node);
      for (const n of nodes) drm_mm_remove_node(n);
      drm_mm_takedown(mm);
    }
  });

  it("BEST's order holds for hole sizes on both sides of the small-size index", () => {
    // Holes below SMALL_HOLE_SIZES (4096) are found through bitmaps, larger ones through a tree
    // of sizes; BEST must still take the smallest fitting size, newest first among equals.
    for (const size of [4095, 4096, 4097, 9000]) {
      const mm = new_mm(0, 10 * size);
      // Holes [size, 2 size) and [3 size, 4 size), then a larger [5 size + 1, 10 size).
      const nodes = [
        set_node(new drm_mm_node(), 0, size),
        set_node(new drm_mm_node(), 4 * size, size + 1),
        set_node(new drm_mm_node(), 2 * size, size),
      ];
      for (const node of nodes) expect(drm_mm_reserve_node(mm, node)).toBe(0);
      // [3 size, 4 size) was created last (the third reservation split [size, 4 size)).
      const first = new drm_mm_node();
      expect(drm_mm_insert_node(mm, first, size)).toBe(0);
      expect(first.start).toBe(3 * size);
      const second = new drm_mm_node();
      expect(drm_mm_insert_node(mm, second, size)).toBe(0);
      expect(second.start).toBe(size);
      // Only the large hole is left for one more unit.
      const third = new drm_mm_node();
      expect(drm_mm_insert_node(mm, third, 1)).toBe(0);
      expect(third.start).toBe(5 * size + 1);
      assert_invariants(mm);
      remove_all(mm);
      drm_mm_takedown(mm);
    }
  });

  it("the hole stack keeps upstream's most-recently-used order through many changes", () => {
    // An independent model of upstream's hole_stack list: add_hole() puts a hole's owner at
    // the head, rm_hole() unlinks it. Insertion does rm_hole(hole), add_hole(hole) if a part
    // is left below the node, add_hole(node) if a part is left above; removal does
    // rm_hole(node), rm_hole(prev), add_hole(prev). The port keeps a log with tombstones that
    // it compacts now and then; the order must not notice.
    const prng = DRM_RND_STATE();
    const mm = new_mm(0, 1 << 16);
    let model: drm_mm_node[] = [mm.head_node];
    const live: drm_mm_node[] = [];
    const holeOwners = (): drm_mm_node[] => [...drm_mm_for_each_hole(mm)].map((h) => h.pos);
    const rm = (owner: drm_mm_node) => {
      model = model.filter((n) => n !== owner);
    };
    const add = (owner: drm_mm_node) => {
      if (drm_mm_hole_follows(owner)) model.unshift(owner);
    };
    for (let step = 0; step < 1500; step++) {
      if (live.length > 0 && prng.below(3) === 0) {
        const node = live.splice(prng.below(live.length), 1)[0]!;
        const nodes = [mm.head_node, ...drm_mm_for_each_node(mm)];
        const prev = nodes[nodes.indexOf(node) - 1]!;
        drm_mm_remove_node(node);
        rm(node);
        rm(prev);
        add(prev);
      } else {
        const before = [...drm_mm_for_each_hole(mm)];
        const node = new drm_mm_node();
        const modes = [DRM_MM_INSERT_BEST, DRM_MM_INSERT_LOW, DRM_MM_INSERT_HIGH];
        const mode = modes[prng.below(3)]!;
        const err = drm_mm_insert_node_generic(
          mm,
          node,
          1 + prng.below(64),
          prng.below(9),
          0,
          mode,
        );
        if (err !== 0) continue;
        live.push(node);
        const hole = before.find((h) => h.hole_start <= node.start && node.start < h.hole_end)!;
        rm(hole.pos);
        add(hole.pos);
        add(node);
      }
      expect(holeOwners()).toEqual(model);
    }
    assert_invariants(mm);
  });

  it("a split hole stacks as upstream: the new node's hole, then the old owner's", () => {
    const mm = new_mm(0, 100);
    const a = set_node(new drm_mm_node(), 0, 10);
    expect(drm_mm_reserve_node(mm, a)).toBe(0);
    const b = set_node(new drm_mm_node(), 40, 10);
    expect(drm_mm_reserve_node(mm, b)).toBe(0);
    expect([...drm_mm_for_each_hole(mm)].map((h) => h.pos)).toEqual([b, a]);
    // Insert into a's hole [10, 40) at 16 (alignment 8): both remainders stay.
    const c = new drm_mm_node();
    expect(drm_mm_insert_node_in_range(mm, c, 8, 8, 0, 12, 40, DRM_MM_INSERT_LOW)).toBe(0);
    expect(c.start).toBe(16);
    expect([...drm_mm_for_each_hole(mm)].map((h) => [h.pos, h.hole_start, h.hole_end])).toEqual([
      [c, 24, 40],
      [a, 10, 16],
      [b, 50, 100],
    ]);
    assert_invariants(mm);
  });

  it("ONCE examines a single candidate hole", () => {
    const mm = new_mm(0, 100);
    const a = set_node(new drm_mm_node(), 10, 10);
    const b = set_node(new drm_mm_node(), 25, 75);
    expect(drm_mm_reserve_node(mm, a)).toBe(0);
    expect(drm_mm_reserve_node(mm, b)).toBe(0);
    // Holes: [0, 10) and [20, 25); the newest is [20, 25), too small for 8.
    const node = new drm_mm_node();
    expect(
      drm_mm_insert_node_generic(mm, node, 8, 0, 0, DRM_MM_INSERT_EVICT + DRM_MM_INSERT_ONCE),
    ).toBe(-ENOSPC);
    expect(drm_mm_insert_node_generic(mm, node, 8, 0, 0, DRM_MM_INSERT_EVICT)).toBe(0);
    expect(node.start).toBe(0);
    drm_mm_remove_node(node);
    // BEST's first candidate for 4 is [20, 25), which cannot hold 4 aligned to 8.
    expect(
      drm_mm_insert_node_generic(mm, node, 4, 8, 0, DRM_MM_INSERT_BEST + DRM_MM_INSERT_ONCE),
    ).toBe(-ENOSPC);
    expect(drm_mm_insert_node_generic(mm, node, 4, 8, 0, DRM_MM_INSERT_BEST)).toBe(0);
    expect(node.start).toBe(0);
    assert_invariants(mm);
  });

  it("misusing nodes or the scanner is a DrmMmBug", () => {
    const mm = new_mm(0, 8);
    const nodes = new_nodes(3);
    fill_unit_nodes(mm, nodes);
    expect(() => drm_mm_remove_node(new drm_mm_node())).toThrow(DrmMmBug);
    expect(() => drm_mm_insert_node(mm, nodes[0]!, 1)).toThrow(DrmMmBug);
    const scan = new drm_mm_scan();
    expect(drm_mm_scan_init(scan, mm, 8, 0, 0, DRM_MM_INSERT_LOW)).toBe(0);
    expect(drm_mm_scan_add_block(scan, nodes[0]!)).toBe(false);
    expect(drm_mm_scan_add_block(scan, nodes[1]!)).toBe(false);
    assert_invariants(mm);
    // Nothing else may touch the allocator while the roster is not empty.
    expect(() => drm_mm_insert_node(mm, new drm_mm_node(), 1)).toThrow(DrmMmBug);
    expect(() => drm_mm_remove_node(nodes[2]!)).toThrow(DrmMmBug);
    // The roster must be unwound in reverse order.
    expect(() => drm_mm_scan_remove_block(scan, nodes[0]!)).toThrow(
      "nodes must leave the roster in reverse order of adding",
    );
    expect(drm_mm_scan_remove_block(scan, nodes[1]!)).toBe(false);
    expect(drm_mm_scan_remove_block(scan, nodes[0]!)).toBe(false);
    assert_invariants(mm);
    remove_all(mm);
  });

  it("drm_mm_print of an empty allocator, and range lookups", () => {
    const mm = new_mm(0x1000, 0x1000);
    let text = "";
    drm_mm_print(mm, { printfn: (line) => (text += line) });
    expect(text).toBe(
      "0x0000000000001000-0x0000000000002000: 4096: free\ntotal: 4096, used 0 free 4096\n",
    );
    const node = set_node(new drm_mm_node(), 0x1800, 0x100);
    expect(drm_mm_reserve_node(mm, node)).toBe(0);
    expect(__drm_mm_interval_first(mm, 0, 0x17ff)).toBe(mm.head_node);
    expect(__drm_mm_interval_first(mm, 0, 0x1800)).toBe(node);
    expect(__drm_mm_interval_first(mm, 0x18ff, 0x18ff)).toBe(node);
    expect(__drm_mm_interval_first(mm, 0x1900, DRM_MM_ADDR_MAX)).toBe(mm.head_node);
    expect([...drm_mm_for_each_node_in_range(mm, 0, DRM_MM_ADDR_MAX)]).toEqual([node]);
  });
});
