// drm_mm: the DRM range allocator. Models drivers/gpu/drm/drm_mm.c and include/drm/drm_mm.h as
// of Linux 6.x (the augmented hole-address tree of v5.8 onwards), plus drm_mm_replace_node(),
// which upstream removed in 2024 but which its old test suite exercises.
//
// The allocator manages one range [start, start + size). Callers own the `drm_mm_node` objects;
// the allocator never allocates memory per operation. A hole is the gap after a node and is
// recorded in that node (`hole_size`); the sentinel `head_node` owns the hole at the start of the
// range. Holes are indexed three ways: by size (`holes_size`, largest first, for
// DRM_MM_INSERT_BEST and the O(1) "nothing big enough" reject), by address (`holes_addr`,
// augmented with the largest hole of each subtree, for LOW, HIGH and reserve), and in
// most-recently-used order (`hole_stack`, for EVICT). Allocated nodes sit on an address-ordered
// list and in an address-ordered tree for range lookups.
//
// Not thread-safe, as upstream: the caller serialises every call (TTM's range manager holds a
// spinlock). While an eviction scan has nodes in its roster, only drm_mm_scan_* calls are
// allowed on the allocator.
//
// What this port leaves out or changes, and why:
// - Addresses, sizes and alignments are JS numbers up to DRM_MM_ADDR_MAX (2^53 - 1) instead of
//   u64, so arithmetic stays exact and fast. Arguments that are negative, fractional or above
//   the limit get -EINVAL (upstream has no such inputs). A request whose end would pass the
//   limit cannot fit, so it gets -ENOSPC, as a u64 overflow does upstream.
// - Upstream DRM_MM_BUG_ON()s on arguments (range_start > range_end, a bad scan range, a zero
//   or overlong init size) become -EINVAL. Misuse of node state (removing a free node,
//   inserting an allocated one, breaking the scan's LIFO order, touching the allocator during
//   a scan) is an always-on assertion that throws DrmMmBug, rather than a debug-only check.
// - drm_mm_takedown() on an allocator that still has nodes throws DrmMmBug carrying the WARN
//   text and the leaked nodes, instead of WARNing and carrying on; the allocator is untouched.
//   There is no stack depot, so every leak reports "unknown owner".
// - The tree of allocated nodes is an ordered red-black tree keyed by start, without the
//   interval tree's __subtree_last: allocated nodes never overlap, so the node with the
//   largest start at or below an address answers every overlap query the interval tree did.
// - Alignment uses `%` everywhere; upstream's power-of-two `remainder_mask` would need 64-bit
//   bitwise operations, which JS numbers do not have.
// - Iterator macros are generator functions; color_adjust receives a mutable bounds object in
//   place of two u64 pointers.

import {
  type rb_augment_callbacks,
  rb_erase_augmented,
  rb_erase_cached,
  rb_insert_augmented,
  rb_insert_color_cached,
  rb_link_node,
  rb_node,
  rb_prev,
  rb_replace_node,
  rb_replace_node_cached,
  rb_root,
  rb_root_cached,
} from "./rbtree.js";

/** No space left: no hole fits the request, or the requested place is occupied. */
export const ENOSPC = 28;
/** Invalid argument: negative, fractional or out-of-limit numbers, or an unknown mode. */
export const EINVAL = 22;

/** The largest address, size or alignment this port accepts; stands in for U64_MAX. */
export const DRM_MM_ADDR_MAX = Number.MAX_SAFE_INTEGER;

/** `enum drm_mm_insert_mode`: where to search for a hole and where to place the node in it. */
export type drm_mm_insert_mode = number;
/** The smallest hole that fits; the node goes at its bottom. */
export const DRM_MM_INSERT_BEST = 0;
/** The lowest-addressed hole that fits; the node goes at its bottom. */
export const DRM_MM_INSERT_LOW = 1;
/** The highest-addressed hole that fits; the node goes at its top. */
export const DRM_MM_INSERT_HIGH = 2;
/** The most recently freed hole first; meant to follow an eviction scan. */
export const DRM_MM_INSERT_EVICT = 3;
/** Flag, combined with a mode by `|` or `+`: examine only the first candidate hole. */
export const DRM_MM_INSERT_ONCE = 0x80000000;
/** DRM_MM_INSERT_HIGH | DRM_MM_INSERT_ONCE. */
export const DRM_MM_INSERT_HIGHEST = DRM_MM_INSERT_HIGH + DRM_MM_INSERT_ONCE;
/** DRM_MM_INSERT_LOW | DRM_MM_INSERT_ONCE. */
export const DRM_MM_INSERT_LOWEST = DRM_MM_INSERT_LOW + DRM_MM_INSERT_ONCE;

/** `drm_mm_node.flags` bit numbers, as upstream. */
export const DRM_MM_NODE_ALLOCATED_BIT = 0;
export const DRM_MM_NODE_SCANNED_BIT = 1;
const ALLOCATED = 1 << DRM_MM_NODE_ALLOCATED_BIT;
const SCANNED = 1 << DRM_MM_NODE_SCANNED_BIT;

/** A broken drm_mm invariant or a misuse of the API: the kernel's DRM_MM_BUG_ON and WARN. */
export class DrmMmBug extends Error {
  override readonly name = "DrmMmBug";
}

function DRM_MM_BUG_ON(condition: boolean, what: string): void {
  if (condition) throw new DrmMmBug(what);
}

/** The interval that `color_adjust` may shrink in place; stands in for its two u64 pointers. */
export interface HoleBounds {
  start: number;
  end: number;
}

/**
 * Driver hook that may shrink the usable part of the hole after `node` for a request of
 * `color` (for example to leave guard pages between different colors). `node` may be the
 * unallocated head node; `nextNode(node)` is the node after the hole. It must only shrink
 * `bounds`, must not keep a reference to it, and must not call back into the allocator.
 */
export type drm_mm_color_adjust = (node: drm_mm_node, color: number, bounds: HoleBounds) => void;

/**
 * One allocation, owned by the caller. Set `start`, `size` and `color` before
 * drm_mm_reserve_node(); the insert functions set them. Everything after `size` is private to
 * the allocator (the `private:` part of the C struct); read it only through the helpers.
 */
export class drm_mm_node {
  /** Opaque tag passed to color_adjust. */
  color = 0;
  /** First address of the allocation. */
  start = 0;
  /** Length of the allocation; negative only in the head node (see drm_mm_init). */
  size = 0;
  /** The allocator this node was last inserted into. */
  mm: drm_mm | null = null;
  /** Address-ordered list of allocated nodes, circular through `mm.head_node` (node_list). */
  nodeListPrev: drm_mm_node = this;
  nodeListNext: drm_mm_node = this;
  /** MRU list of nodes followed by a hole, anchored at `mm.hole_stack` (hole_stack). */
  holeStackPrev: drm_mm_node = this;
  holeStackNext: drm_mm_node = this;
  /** Link in `mm.interval_tree`, keyed by `start`. */
  readonly rb = new rb_node<drm_mm_node>(this);
  /** Link in `mm.holes_size`, keyed by `hole_size`, largest first. */
  readonly rb_hole_size = new rb_node<drm_mm_node>(this);
  /** Link in `mm.holes_addr`, keyed by hole start and augmented with `subtree_max_hole`. */
  readonly rb_hole_addr = new rb_node<drm_mm_node>(this);
  /** Size of the hole after this node; 0 means no hole follows. */
  hole_size = 0;
  /** Largest `hole_size` in this node's `holes_addr` subtree. */
  subtree_max_hole = 0;
  /** DRM_MM_NODE_ALLOCATED_BIT and DRM_MM_NODE_SCANNED_BIT. */
  flags = 0;
}

/** The allocator. Zero it with `new drm_mm()`, then call drm_mm_init(). */
export class drm_mm {
  /** Optional driver hook; see drm_mm_color_adjust. */
  color_adjust: drm_mm_color_adjust | null = null;
  /** Sentinel of the MRU hole list; never allocated, never in a tree. */
  hole_stack = new drm_mm_node();
  /** Sentinel of the node list; its hole is the one at the start of the range. */
  head_node = new drm_mm_node();
  /** Allocated nodes by start; the cached leftmost is the lowest node. */
  interval_tree = new rb_root_cached<drm_mm_node>();
  /** Hole owners by hole size, largest first; the cached leftmost is the largest hole. */
  holes_size = new rb_root_cached<drm_mm_node>();
  /** Hole owners by hole start, augmented with subtree_max_hole. */
  holes_addr = new rb_root<drm_mm_node>();
  /** Number of nodes currently in an eviction roster. */
  scan_active = 0;
  /** Scratch bounds handed to color_adjust, reused so that searching does not allocate. */
  colorAdjustBounds: HoleBounds = { start: 0, end: 0 };
}

/**
 * Eviction roster state (`struct drm_mm_scan`), set up by drm_mm_scan_init_with_range().
 * `hit_start > hit_end` means no hole has been found yet.
 */
export class drm_mm_scan {
  mm: drm_mm | null = null;
  size = 0;
  alignment = 0;
  color = 0;
  range_start = 0;
  range_end = 0;
  hit_start = DRM_MM_ADDR_MAX;
  hit_end = 0;
  mode: drm_mm_insert_mode = DRM_MM_INSERT_BEST;
}

/** The output side of `struct drm_printer`: receives text that ends in "\n". */
export interface drm_printer {
  printfn(text: string): void;
}

// ------------------------------------------------------------------------------------------
// Small helpers from include/drm/drm_mm.h.

/** Whether `node` is allocated (inserted or reserved and not yet removed). */
export function drm_mm_node_allocated(node: drm_mm_node): boolean {
  return (node.flags & ALLOCATED) !== 0;
}

/** Whether `node` is in an eviction scan roster. */
export function drm_mm_node_scanned_block(node: drm_mm_node): boolean {
  return (node.flags & SCANNED) !== 0;
}

/** Whether drm_mm_init() has set up `mm`. A freshly constructed (zeroed) mm reads false. */
export function drm_mm_initialized(mm: drm_mm): boolean {
  // Upstream tests hole_stack.next; here drm_mm_init() links the head node to its mm instead.
  return mm.head_node.mm === mm;
}

/** Whether a hole follows `node`. */
export function drm_mm_hole_follows(node: drm_mm_node): boolean {
  return node.hole_size !== 0;
}

function __drm_mm_hole_node_start(hole_node: drm_mm_node): number {
  // For the head node, start + size is the range start (its size is minus the range size).
  return hole_node.start + hole_node.size;
}

/** Start of the hole after `hole_node`. The caller must check drm_mm_hole_follows() first. */
export function drm_mm_hole_node_start(hole_node: drm_mm_node): number {
  DRM_MM_BUG_ON(!drm_mm_hole_follows(hole_node), "drm_mm_hole_node_start: no hole follows");
  return __drm_mm_hole_node_start(hole_node);
}

function __drm_mm_hole_node_end(hole_node: drm_mm_node): number {
  return hole_node.nodeListNext.start;
}

/** End of the hole after `hole_node`. The caller must check drm_mm_hole_follows() first. */
export function drm_mm_hole_node_end(hole_node: drm_mm_node): number {
  DRM_MM_BUG_ON(!drm_mm_hole_follows(hole_node), "drm_mm_hole_node_end: no hole follows");
  return __drm_mm_hole_node_end(hole_node);
}

/**
 * The node after `node` in address order, or the head node after the last one; C's
 * `list_next_entry(node, node_list)`, as used by color_adjust callbacks.
 */
export function nextNode(node: drm_mm_node): drm_mm_node {
  return node.nodeListNext;
}

/** Whether `mm` holds no allocated nodes. */
export function drm_mm_clean(mm: drm_mm): boolean {
  return mm.head_node.nodeListNext === mm.head_node;
}

// ------------------------------------------------------------------------------------------
// Argument checks (ours: upstream takes u64 and cannot see these).

function isAddr(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

/** The mode without DRM_MM_INSERT_ONCE, or -1 when `mode` is not a valid insert mode. */
function modeBase(mode: number): number {
  if (!Number.isInteger(mode)) return -1;
  // `DRM_MM_INSERT_LOW | DRM_MM_INSERT_ONCE` is a negative int32 in JS; `+` gives the u32.
  const bits = mode < 0 ? mode + 2 ** 32 : mode;
  const base = bits >= DRM_MM_INSERT_ONCE ? bits - DRM_MM_INSERT_ONCE : bits;
  return base >= DRM_MM_INSERT_BEST && base <= DRM_MM_INSERT_EVICT ? base : -1;
}

function modeOnce(mode: number): boolean {
  return (mode < 0 ? mode + 2 ** 32 : mode) >= DRM_MM_INSERT_ONCE;
}

function assertQuiescent(mm: drm_mm, what: string): void {
  DRM_MM_BUG_ON(!drm_mm_initialized(mm), `${what}: drm_mm is not initialized`);
  DRM_MM_BUG_ON(mm.scan_active !== 0, `${what}: an eviction scan is in progress`);
}

// ------------------------------------------------------------------------------------------
// Hole bookkeeping.

function computeSubtreeMaxHole(node: drm_mm_node): number {
  let max = node.hole_size;
  const left = node.rb_hole_addr.rb_left;
  const right = node.rb_hole_addr.rb_right;
  if (left !== null && left.owner.subtree_max_hole > max) max = left.owner.subtree_max_hole;
  if (right !== null && right.owner.subtree_max_hole > max) max = right.owner.subtree_max_hole;
  return max;
}

/** Keeps `subtree_max_hole` correct in `holes_addr` (RB_DECLARE_CALLBACKS_MAX upstream). */
const holeAddrAugment: rb_augment_callbacks<drm_mm_node> = {
  propagate(rb, stop) {
    while (rb !== stop && rb !== null) {
      const node = rb.owner;
      const max = computeSubtreeMaxHole(node);
      if (node.subtree_max_hole === max) break;
      node.subtree_max_hole = max;
      rb = rb.rb_parent;
    }
  },
  copy(old, replacement) {
    replacement.owner.subtree_max_hole = old.owner.subtree_max_hole;
  },
  rotate(old, replacement) {
    replacement.owner.subtree_max_hole = old.owner.subtree_max_hole;
    old.owner.subtree_max_hole = computeSubtreeMaxHole(old.owner);
  },
};

function insertHoleSize(root: rb_root_cached<drm_mm_node>, node: drm_mm_node): void {
  const size = node.hole_size;
  let link = root.rb_node;
  let parent: rb_node<drm_mm_node> | null = null;
  let asLeft = false;
  let leftmost = true;
  // Largest first; an equal size goes right, after the older holes of that size.
  while (link !== null) {
    parent = link;
    if (size > link.owner.hole_size) {
      link = link.rb_left;
      asLeft = true;
    } else {
      link = link.rb_right;
      asLeft = false;
      leftmost = false;
    }
  }
  rb_link_node(node.rb_hole_size, parent, asLeft, root);
  rb_insert_color_cached(node.rb_hole_size, root, leftmost);
}

function insertHoleAddr(root: rb_root<drm_mm_node>, node: drm_mm_node): void {
  const start = __drm_mm_hole_node_start(node);
  const max = node.subtree_max_hole;
  let link = root.rb_node;
  let parent: rb_node<drm_mm_node> | null = null;
  let asLeft = false;
  // The new hole is below every node on the descent path, so their subtree maxima can be
  // raised on the way down; the rotate callback keeps them right while rebalancing.
  while (link !== null) {
    parent = link;
    const p = link.owner;
    if (p.subtree_max_hole < max) p.subtree_max_hole = max;
    asLeft = start < __drm_mm_hole_node_start(p);
    link = asLeft ? link.rb_left : link.rb_right;
  }
  rb_link_node(node.rb_hole_addr, parent, asLeft, root);
  rb_insert_augmented(node.rb_hole_addr, root, holeAddrAugment);
}

/** Records the gap between `node` and its list successor as a hole in all three indexes. */
function add_hole(mm: drm_mm, node: drm_mm_node): void {
  node.hole_size = __drm_mm_hole_node_end(node) - __drm_mm_hole_node_start(node);
  node.subtree_max_hole = node.hole_size;
  DRM_MM_BUG_ON(!drm_mm_hole_follows(node), "add_hole: empty hole");
  insertHoleSize(mm.holes_size, node);
  insertHoleAddr(mm.holes_addr, node);
  // Most recently used first.
  const first = mm.hole_stack.holeStackNext;
  node.holeStackPrev = mm.hole_stack;
  node.holeStackNext = first;
  first.holeStackPrev = node;
  mm.hole_stack.holeStackNext = node;
}

/** Drops the hole after `node` from all three indexes. */
function rm_hole(mm: drm_mm, node: drm_mm_node): void {
  DRM_MM_BUG_ON(!drm_mm_hole_follows(node), "rm_hole: no hole follows");
  node.holeStackPrev.holeStackNext = node.holeStackNext;
  node.holeStackNext.holeStackPrev = node.holeStackPrev;
  node.holeStackPrev = node;
  node.holeStackNext = node;
  rb_erase_cached(node.rb_hole_size, mm.holes_size);
  rb_erase_augmented(node.rb_hole_addr, mm.holes_addr, holeAddrAugment);
  node.hole_size = 0;
  node.subtree_max_hole = 0;
}

// ------------------------------------------------------------------------------------------
// Hole search.

/** The smallest hole of at least `size`; among equal sizes, the most recently added. */
function best_hole(mm: drm_mm, size: number): drm_mm_node | null {
  let rb = mm.holes_size.rb_node;
  let best: drm_mm_node | null = null;
  while (rb !== null) {
    const node = rb.owner;
    if (size <= node.hole_size) {
      best = node;
      rb = rb.rb_right;
    } else {
      rb = rb.rb_left;
    }
  }
  return best;
}

function usableHoleAddr(rb: rb_node<drm_mm_node> | null, size: number): boolean {
  return rb !== null && rb.owner.subtree_max_hole >= size;
}

/**
 * Descends `holes_addr` towards `addr`, never into a subtree without a hole of `size`, and
 * returns the hole containing `addr` (its end counts as inside) or the last usable hole on the
 * way. The landing hole itself may be too small; the search loop then moves on from it.
 */
function find_hole_addr(mm: drm_mm, addr: number, size: number): drm_mm_node | null {
  let rb = mm.holes_addr.rb_node;
  let node: drm_mm_node | null = null;
  while (rb !== null) {
    if (rb.owner.subtree_max_hole < size) break;
    node = rb.owner;
    const hole_start = __drm_mm_hole_node_start(node);
    if (addr < hole_start) rb = rb.rb_left;
    else if (addr > hole_start + node.hole_size) rb = rb.rb_right;
    else break;
  }
  return node;
}

/** In-order successor in `holes_addr`, skipping subtrees without a hole of `size`. */
function next_hole_low_addr(node: drm_mm_node, size: number): drm_mm_node | null {
  let rb = node.rb_hole_addr;
  if (usableHoleAddr(rb.rb_right, size)) {
    rb = rb.rb_right!;
    while (usableHoleAddr(rb.rb_left, size)) rb = rb.rb_left!;
    return rb.owner;
  }
  let parent = rb.rb_parent;
  while (parent !== null && rb === parent.rb_right) {
    rb = parent;
    parent = rb.rb_parent;
  }
  return parent === null ? null : parent.owner;
}

/** In-order predecessor in `holes_addr`, skipping subtrees without a hole of `size`. */
function next_hole_high_addr(node: drm_mm_node, size: number): drm_mm_node | null {
  let rb = node.rb_hole_addr;
  if (usableHoleAddr(rb.rb_left, size)) {
    rb = rb.rb_left!;
    while (usableHoleAddr(rb.rb_right, size)) rb = rb.rb_right!;
    return rb.owner;
  }
  let parent = rb.rb_parent;
  while (parent !== null && rb === parent.rb_left) {
    rb = parent;
    parent = rb.rb_parent;
  }
  return parent === null ? null : parent.owner;
}

function first_hole(
  mm: drm_mm,
  start: number,
  end: number,
  size: number,
  mode: number,
): drm_mm_node | null {
  switch (mode) {
    case DRM_MM_INSERT_LOW:
      return find_hole_addr(mm, start, size);
    case DRM_MM_INSERT_HIGH:
      return find_hole_addr(mm, end, size);
    case DRM_MM_INSERT_EVICT: {
      const first = mm.hole_stack.holeStackNext;
      return first === mm.hole_stack ? null : first;
    }
    default:
      return best_hole(mm, size);
  }
}

function next_hole(mm: drm_mm, node: drm_mm_node, size: number, mode: number): drm_mm_node | null {
  switch (mode) {
    case DRM_MM_INSERT_LOW:
      return next_hole_low_addr(node, size);
    case DRM_MM_INSERT_HIGH:
      return next_hole_high_addr(node, size);
    case DRM_MM_INSERT_EVICT: {
      const next = node.holeStackNext;
      return next === mm.hole_stack ? null : next;
    }
    default: {
      // The previous hole in size order is the next larger (or equal, older) one.
      const prev = rb_prev(node.rb_hole_size);
      return prev === null ? null : prev.owner;
    }
  }
}

const NO_FIT = -1;

/**
 * Where a node of `size` goes in the gap [hole_start, hole_end) after `hole`, after
 * color_adjust, clipping to [range_start, range_end) and alignment, or NO_FIT. HIGH puts the
 * node at the top and rounds down; every other mode puts it at the bottom and rounds up.
 * Insertion and the eviction scanner share this test, so that a scan hit is exactly the place
 * an immediately following DRM_MM_INSERT_EVICT insertion chooses.
 */
function placeInHole(
  mm: drm_mm,
  hole: drm_mm_node,
  hole_start: number,
  hole_end: number,
  size: number,
  alignment: number,
  color: number,
  range_start: number,
  range_end: number,
  high: boolean,
): number {
  let col_start = hole_start;
  let col_end = hole_end;
  const adjust = mm.color_adjust;
  if (adjust !== null) {
    const bounds = mm.colorAdjustBounds;
    bounds.start = hole_start;
    bounds.end = hole_end;
    adjust(hole, color, bounds);
    col_start = bounds.start;
    col_end = bounds.end;
  }
  const lo = Math.max(col_start, range_start);
  const hi = Math.min(col_end, range_end);
  if (hi <= lo || hi - lo < size) return NO_FIT;
  let adj_start = high ? hi - size : lo;
  if (alignment !== 0) {
    const rem = adj_start % alignment;
    if (rem !== 0) {
      adj_start -= rem;
      if (!high) {
        // Rounding up past the address limit cannot fit, as a u64 wraparound cannot upstream.
        if (adj_start > DRM_MM_ADDR_MAX - alignment) return NO_FIT;
        adj_start += alignment;
      }
      if (adj_start < lo || hi - adj_start < size) return NO_FIT;
    }
  }
  return adj_start;
}

/** Inserts `node` into the allocated-node tree as the in-order successor of `hole`. */
function intervalTreeAddNode(mm: drm_mm, hole: drm_mm_node, node: drm_mm_node): void {
  const root = mm.interval_tree;
  if (drm_mm_node_allocated(hole)) {
    // The node follows `hole` in address order, so it goes right after it in the tree: no
    // key comparisons are needed.
    let parent = hole.rb;
    if (parent.rb_right === null) {
      rb_link_node(node.rb, parent, false, root);
    } else {
      parent = parent.rb_right;
      while (parent.rb_left !== null) parent = parent.rb_left;
      rb_link_node(node.rb, parent, true, root);
    }
    rb_insert_color_cached(node.rb, root, false);
  } else {
    // The hole is the head node's, so the node becomes the lowest.
    let parent = root.rb_node;
    if (parent !== null) while (parent.rb_left !== null) parent = parent.rb_left;
    rb_link_node(node.rb, parent, true, root);
    rb_insert_color_cached(node.rb, root, true);
  }
}

/** Allocates [start, start + size) inside the hole after `hole`, splitting off what remains. */
function linkNodeIntoHole(
  mm: drm_mm,
  hole: drm_mm_node,
  node: drm_mm_node,
  start: number,
  size: number,
  color: number,
): void {
  const hole_start = __drm_mm_hole_node_start(hole);
  const hole_end = hole_start + hole.hole_size;
  DRM_MM_BUG_ON(start < hole_start || start + size > hole_end, "node does not fit its hole");
  node.mm = mm;
  node.start = start;
  node.size = size;
  node.color = color;
  node.hole_size = 0;
  node.subtree_max_hole = 0;

  const next = hole.nodeListNext;
  node.nodeListPrev = hole;
  node.nodeListNext = next;
  next.nodeListPrev = node;
  hole.nodeListNext = node;
  intervalTreeAddNode(mm, hole, node);
  node.flags = ALLOCATED;

  rm_hole(mm, hole);
  if (start > hole_start) add_hole(mm, hole);
  if (start + size < hole_end) add_hole(mm, node);
}

// ------------------------------------------------------------------------------------------
// The allocator API.

/**
 * drm_mm_init - initialise `mm` to manage [start, start + size).
 * @param mm the allocator; its previous contents are discarded, whatever they were.
 * @param start first address of the range.
 * @param size length of the range.
 * Returns 0, or -EINVAL if `size` is 0, an argument is not an integer in [0, DRM_MM_ADDR_MAX],
 * or the range passes DRM_MM_ADDR_MAX (upstream: DRM_MM_BUG_ON).
 */
export function drm_mm_init(mm: drm_mm, start: number, size: number): number {
  if (!isAddr(start) || !isAddr(size) || size === 0 || start + size > DRM_MM_ADDR_MAX) {
    return -EINVAL;
  }
  mm.color_adjust = null;
  mm.hole_stack = new drm_mm_node();
  mm.interval_tree = new rb_root_cached();
  mm.holes_size = new rb_root_cached();
  mm.holes_addr = new rb_root();
  mm.colorAdjustBounds = { start: 0, end: 0 };
  mm.scan_active = 0;

  // The head node sits at the end of the range with a negative size, so that the hole "after"
  // it starts at the range start and every hole that reaches the head ends at the range end.
  const head = new drm_mm_node();
  head.mm = mm;
  head.start = start + size;
  head.size = -size;
  mm.head_node = head;
  add_hole(mm, head);
  return 0;
}

/**
 * drm_mm_takedown - clean up an allocator.
 * @param mm an initialised allocator.
 * It is a bug to take down an allocator that still has nodes. Upstream WARNs ("Memory manager
 * not clean during takedown.") and lists the leaked nodes; this port throws DrmMmBug with the
 * same text and list, and leaves `mm` untouched.
 */
export function drm_mm_takedown(mm: drm_mm): void {
  if (drm_mm_clean(mm)) return;
  const leaks: string[] = [];
  for (const node of drm_mm_for_each_node(mm)) {
    leaks.push(`node [${hex8(node.start)} + ${hex8(node.size)}]: unknown owner`);
  }
  throw new DrmMmBug(`Memory manager not clean during takedown.\n${leaks.join("\n")}`);
}

/**
 * drm_mm_insert_node_in_range - search for space and insert `node`.
 * @param mm the allocator.
 * @param node a node that is not allocated; its start, size and color are overwritten.
 * @param size size of the allocation.
 * @param alignment the start is a multiple of this (0 or 1: none); relative to address 0.
 * @param color opaque tag for color_adjust.
 * @param range_start start of the range the node must lie in.
 * @param range_end end of that range (exclusive).
 * @param mode DRM_MM_INSERT_BEST, _LOW, _HIGH or _EVICT, optionally with DRM_MM_INSERT_ONCE.
 * Returns 0, -ENOSPC if `size` is 0 or no hole fits, or -EINVAL for a bad argument (a number
 * outside [0, DRM_MM_ADDR_MAX], range_start > range_end, an unknown mode).
 * Throws DrmMmBug if `node` is allocated or a scan is in progress.
 */
export function drm_mm_insert_node_in_range(
  mm: drm_mm,
  node: drm_mm_node,
  size: number,
  alignment: number,
  color: number,
  range_start: number,
  range_end: number,
  mode: drm_mm_insert_mode,
): number {
  const base = modeBase(mode);
  if (
    base < 0 ||
    !isAddr(size) ||
    !isAddr(alignment) ||
    !isAddr(color) ||
    !isAddr(range_start) ||
    !isAddr(range_end) ||
    range_start > range_end
  ) {
    return -EINVAL;
  }
  assertQuiescent(mm, "drm_mm_insert_node_in_range");
  DRM_MM_BUG_ON(drm_mm_node_allocated(node), "drm_mm_insert_node_in_range: node in use");

  if (size === 0 || range_end - range_start < size) return -ENOSPC;
  // O(1) reject: the cached leftmost hole of holes_size is the largest.
  const largest = mm.holes_size.rb_leftmost;
  if (largest === null || largest.owner.hole_size < size) return -ENOSPC;

  const align = alignment <= 1 ? 0 : alignment;
  const once = modeOnce(mode);
  const high = base === DRM_MM_INSERT_HIGH;
  for (
    let hole = first_hole(mm, range_start, range_end, size, base);
    hole !== null;
    hole = once ? null : next_hole(mm, hole, size, base)
  ) {
    const hole_start = __drm_mm_hole_node_start(hole);
    const hole_end = hole_start + hole.hole_size;
    // Address-ordered walks stop once they leave the range; BEST and EVICT visit every hole.
    if (base === DRM_MM_INSERT_LOW && hole_start >= range_end) break;
    if (high && hole_end <= range_start) break;
    const start = placeInHole(
      mm,
      hole,
      hole_start,
      hole_end,
      size,
      align,
      color,
      range_start,
      range_end,
      high,
    );
    if (start === NO_FIT) continue;
    linkNodeIntoHole(mm, hole, node, start, size, color);
    return 0;
  }
  return -ENOSPC;
}

/**
 * drm_mm_insert_node_generic - search the whole allocator for space and insert `node`.
 * Same as drm_mm_insert_node_in_range() over [0, DRM_MM_ADDR_MAX); same errnos.
 */
export function drm_mm_insert_node_generic(
  mm: drm_mm,
  node: drm_mm_node,
  size: number,
  alignment: number,
  color: number,
  mode: drm_mm_insert_mode,
): number {
  return drm_mm_insert_node_in_range(mm, node, size, alignment, color, 0, DRM_MM_ADDR_MAX, mode);
}

/**
 * drm_mm_insert_node - insert `node` of `size` anywhere, best fit, no alignment, color 0.
 * Returns 0, -ENOSPC or -EINVAL as drm_mm_insert_node_in_range().
 */
export function drm_mm_insert_node(mm: drm_mm, node: drm_mm_node, size: number): number {
  return drm_mm_insert_node_generic(mm, node, size, 0, 0, DRM_MM_INSERT_BEST);
}

/**
 * drm_mm_reserve_node - insert `node` at the place the caller chose.
 * @param mm the allocator.
 * @param node a node with `start`, `size` and `color` set.
 * Returns 0; -ENOSPC if `size` is 0, the range [start, start + size) is not entirely inside one
 * hole (after color_adjust), or `node` is already allocated (its place is taken, by itself);
 * -EINVAL if start, size or color is not an integer in [0, DRM_MM_ADDR_MAX].
 * Throws DrmMmBug if a scan is in progress.
 */
export function drm_mm_reserve_node(mm: drm_mm, node: drm_mm_node): number {
  const start = node.start;
  const size = node.size;
  if (!isAddr(start) || !isAddr(size) || !isAddr(node.color)) return -EINVAL;
  assertQuiescent(mm, "drm_mm_reserve_node");
  if (drm_mm_node_allocated(node)) return -ENOSPC;
  const end = start + size;
  if (size === 0 || end > DRM_MM_ADDR_MAX) return -ENOSPC;

  // With size 0 every subtree is usable, so this is a plain search for the hole at `start`.
  const hole = find_hole_addr(mm, start, 0);
  if (hole === null) return -ENOSPC;
  let adj_start = __drm_mm_hole_node_start(hole);
  let adj_end = adj_start + hole.hole_size;
  const adjust = mm.color_adjust;
  if (adjust !== null) {
    const bounds = mm.colorAdjustBounds;
    bounds.start = adj_start;
    bounds.end = adj_end;
    adjust(hole, node.color, bounds);
    adj_start = bounds.start;
    adj_end = bounds.end;
  }
  if (adj_start > start || adj_end < end) return -ENOSPC;

  linkNodeIntoHole(mm, hole, node, start, size, node.color);
  return 0;
}

/**
 * drm_mm_remove_node - free the space of `node`, merging it with the holes on both sides.
 * The node can be inserted again afterwards without being cleared.
 * Throws DrmMmBug if `node` is not allocated or a scan is in progress (upstream:
 * DRM_MM_BUG_ON).
 */
export function drm_mm_remove_node(node: drm_mm_node): void {
  const mm = node.mm;
  DRM_MM_BUG_ON(mm === null || !drm_mm_node_allocated(node), "drm_mm_remove_node: not allocated");
  assertQuiescent(mm!, "drm_mm_remove_node");
  const prev = node.nodeListPrev;

  if (drm_mm_hole_follows(node)) rm_hole(mm!, node);
  rb_erase_cached(node.rb, mm!.interval_tree);
  const next = node.nodeListNext;
  prev.nodeListNext = next;
  next.nodeListPrev = prev;
  node.nodeListPrev = node;
  node.nodeListNext = node;
  node.flags = 0;

  // The freed span joins the hole after the previous node, which becomes the newest hole.
  if (drm_mm_hole_follows(prev)) rm_hole(mm!, prev);
  add_hole(mm!, prev);
}

/**
 * drm_mm_replace_node - move the allocation of `old` to `replacement` in O(1).
 * `replacement` takes over `old`'s place in every list and tree, with the same start, size and
 * color; `old` is left unallocated. (Removed upstream in 2024 as unused; kept for its tests.)
 * Throws DrmMmBug if `old` is not allocated, `replacement` is, or a scan is in progress.
 */
export function drm_mm_replace_node(old: drm_mm_node, replacement: drm_mm_node): void {
  const mm = old.mm;
  DRM_MM_BUG_ON(mm === null || !drm_mm_node_allocated(old), "drm_mm_replace_node: old is free");
  DRM_MM_BUG_ON(drm_mm_node_allocated(replacement), "drm_mm_replace_node: new is in use");
  assertQuiescent(mm!, "drm_mm_replace_node");

  replacement.mm = mm;
  replacement.start = old.start;
  replacement.size = old.size;
  replacement.color = old.color;
  replacement.hole_size = old.hole_size;
  replacement.subtree_max_hole = old.subtree_max_hole;

  replacement.nodeListPrev = old.nodeListPrev;
  replacement.nodeListNext = old.nodeListNext;
  old.nodeListPrev.nodeListNext = replacement;
  old.nodeListNext.nodeListPrev = replacement;
  old.nodeListPrev = old;
  old.nodeListNext = old;
  rb_replace_node_cached(old.rb, replacement.rb, mm!.interval_tree);

  if (drm_mm_hole_follows(old)) {
    replacement.holeStackPrev = old.holeStackPrev;
    replacement.holeStackNext = old.holeStackNext;
    old.holeStackPrev.holeStackNext = replacement;
    old.holeStackNext.holeStackPrev = replacement;
    old.holeStackPrev = old;
    old.holeStackNext = old;
    rb_replace_node_cached(old.rb_hole_size, replacement.rb_hole_size, mm!.holes_size);
    rb_replace_node(old.rb_hole_addr, replacement.rb_hole_addr, mm!.holes_addr);
  }
  // Upstream leaves old's hole_size stale; clearing it keeps "a hole follows" meaning "is in
  // the hole indexes" for every node.
  old.hole_size = 0;
  old.subtree_max_hole = 0;
  old.flags = 0;
  replacement.flags = ALLOCATED;
}

// ------------------------------------------------------------------------------------------
// Lookup and iteration.

/**
 * __drm_mm_interval_first - the lowest allocated node overlapping [start, last] (inclusive),
 * or the head node when there is none. Nodes in a scan roster are still found.
 */
export function __drm_mm_interval_first(mm: drm_mm, start: number, last: number): drm_mm_node {
  let rb = mm.interval_tree.rb_node;
  let floor: drm_mm_node | null = null;
  let ceiling: drm_mm_node | null = null;
  while (rb !== null) {
    const node = rb.owner;
    if (node.start <= start) {
      floor = node;
      rb = rb.rb_right;
    } else {
      ceiling = node;
      rb = rb.rb_left;
    }
  }
  // Nodes do not overlap, so only the last node starting at or before `start` can cover it.
  if (floor !== null && floor.start + floor.size > start) return floor;
  if (ceiling !== null && ceiling.start <= last) return ceiling;
  return mm.head_node;
}

/**
 * drm_mm_for_each_node - allocated nodes in address order. Removing the node just yielded is
 * allowed (it doubles as drm_mm_for_each_node_safe). Nodes in a scan roster are skipped.
 */
export function* drm_mm_for_each_node(mm: drm_mm): Generator<drm_mm_node, void, undefined> {
  const head = mm.head_node;
  for (let node = head.nodeListNext; node !== head; ) {
    const next = node.nodeListNext;
    yield node;
    node = next;
  }
}

/** drm_mm_for_each_node_safe - the same walk; removing the yielded node is allowed. */
export const drm_mm_for_each_node_safe = drm_mm_for_each_node;

/**
 * drm_mm_for_each_node_in_range - allocated nodes that overlap [start, end), in address order.
 * Stops at the end of the allocator even when `end` lies beyond it.
 */
export function* drm_mm_for_each_node_in_range(
  mm: drm_mm,
  start: number,
  end: number,
): Generator<drm_mm_node, void, undefined> {
  const head = mm.head_node;
  for (let node = __drm_mm_interval_first(mm, start, end - 1); node !== head; ) {
    if (node.start >= end) return;
    const next = node.nodeListNext;
    yield node;
    node = next;
  }
}

/** One hole as yielded by drm_mm_for_each_hole: its owner (`pos`) and its bounds. */
export interface drm_mm_hole {
  pos: drm_mm_node;
  hole_start: number;
  hole_end: number;
}

/**
 * drm_mm_for_each_hole - every hole, in most-recently-used order (the hole stack), not in
 * address order.
 */
export function* drm_mm_for_each_hole(mm: drm_mm): Generator<drm_mm_hole, void, undefined> {
  const stack = mm.hole_stack;
  for (let pos = stack.holeStackNext; pos !== stack; ) {
    const next = pos.holeStackNext;
    const hole_start = __drm_mm_hole_node_start(pos);
    yield { pos, hole_start, hole_end: hole_start + pos.hole_size };
    pos = next;
  }
}

// ------------------------------------------------------------------------------------------
// The eviction scanner ("LRU scan roster").
//
// A caller that finds no hole walks its LRU, adding candidate victims with
// drm_mm_scan_add_block() until one call returns true. Each added node is unlinked from the
// node list (its own links are kept so it can be put back), which widens the gap owned by its
// predecessor; only that gap can have grown, so only it is tested. The caller must then remove
// every added node with drm_mm_scan_remove_block() in exactly the reverse order, which relinks
// it and reports whether it overlaps the window found. The caller evicts those nodes (and, with
// color_adjust, whatever drm_mm_scan_color_evict() returns); an immediately following
// DRM_MM_INSERT_EVICT insertion with the same parameters lands in the window.

/**
 * drm_mm_scan_init_with_range - start an eviction scan for a hole of `size` in [start, end).
 * @param scan the scan state to set up.
 * @param mm the allocator; no other scan may have nodes in its roster.
 * @param mode DRM_MM_INSERT_HIGH looks for the window at the top of each gap; any other mode
 *   at the bottom. DRM_MM_INSERT_ONCE is ignored.
 * Returns 0, or -EINVAL for a bad argument: start >= end, size 0 or larger than end - start,
 * a number outside [0, DRM_MM_ADDR_MAX], an unknown mode (upstream: DRM_MM_BUG_ON).
 * Throws DrmMmBug if `mm` is uninitialised or another scan is in progress.
 */
export function drm_mm_scan_init_with_range(
  scan: drm_mm_scan,
  mm: drm_mm,
  size: number,
  alignment: number,
  color: number,
  start: number,
  end: number,
  mode: drm_mm_insert_mode,
): number {
  const base = modeBase(mode);
  if (
    base < 0 ||
    !isAddr(size) ||
    !isAddr(alignment) ||
    !isAddr(color) ||
    !isAddr(start) ||
    !isAddr(end) ||
    start >= end ||
    size === 0 ||
    size > end - start
  ) {
    return -EINVAL;
  }
  assertQuiescent(mm, "drm_mm_scan_init_with_range");
  scan.mm = mm;
  scan.size = size;
  scan.alignment = alignment <= 1 ? 0 : alignment;
  scan.color = color;
  scan.range_start = start;
  scan.range_end = end;
  scan.mode = base;
  scan.hit_start = DRM_MM_ADDR_MAX;
  scan.hit_end = 0;
  return 0;
}

/**
 * drm_mm_scan_init - start an eviction scan over the whole allocator.
 * Same as drm_mm_scan_init_with_range() over [0, DRM_MM_ADDR_MAX); same errnos.
 */
export function drm_mm_scan_init(
  scan: drm_mm_scan,
  mm: drm_mm,
  size: number,
  alignment: number,
  color: number,
  mode: drm_mm_insert_mode,
): number {
  return drm_mm_scan_init_with_range(scan, mm, size, alignment, color, 0, DRM_MM_ADDR_MAX, mode);
}

/**
 * drm_mm_scan_add_block - add `node` to the roster. O(1).
 * Returns true once evicting the nodes added so far would leave a suitable hole; the window is
 * then [scan.hit_start, scan.hit_end).
 * Throws DrmMmBug if `node` is not an allocated node of the scanned allocator, or is already in
 * the roster.
 */
export function drm_mm_scan_add_block(scan: drm_mm_scan, node: drm_mm_node): boolean {
  const mm = scan.mm;
  DRM_MM_BUG_ON(mm === null || node.mm !== mm, "drm_mm_scan_add_block: node of another mm");
  DRM_MM_BUG_ON(!drm_mm_node_allocated(node), "drm_mm_scan_add_block: node not allocated");
  DRM_MM_BUG_ON(drm_mm_node_scanned_block(node), "drm_mm_scan_add_block: node already scanned");
  node.flags |= SCANNED;
  mm!.scan_active++;

  // Unlink without touching the node's own links, so that remove_block can put it back.
  const hole = node.nodeListPrev;
  const next = node.nodeListNext;
  DRM_MM_BUG_ON(hole.nodeListNext !== node, "drm_mm_scan_add_block: node list corrupted");
  hole.nodeListNext = next;
  next.nodeListPrev = hole;

  const hole_start = __drm_mm_hole_node_start(hole);
  const hole_end = next.start;
  const start = placeInHole(
    mm!,
    hole,
    hole_start,
    hole_end,
    scan.size,
    scan.alignment,
    scan.color,
    scan.range_start,
    scan.range_end,
    scan.mode === DRM_MM_INSERT_HIGH,
  );
  if (start === NO_FIT) return false;
  scan.hit_start = start;
  scan.hit_end = start + scan.size;
  return true;
}

/**
 * drm_mm_scan_remove_block - take `node` out of the roster again. O(1).
 * Nodes must leave the roster in exactly the reverse order they joined it.
 * Returns true if `node` overlaps the window found and so must be evicted; always false if no
 * window was found.
 * Throws DrmMmBug if `node` is not in this roster or is removed out of order.
 */
export function drm_mm_scan_remove_block(scan: drm_mm_scan, node: drm_mm_node): boolean {
  const mm = scan.mm;
  DRM_MM_BUG_ON(mm === null || node.mm !== mm, "drm_mm_scan_remove_block: node of another mm");
  DRM_MM_BUG_ON(!drm_mm_node_scanned_block(node), "drm_mm_scan_remove_block: node not scanned");
  DRM_MM_BUG_ON(mm!.scan_active === 0, "drm_mm_scan_remove_block: no scan active");
  // Both neighbours must still agree on what lies across the gap; otherwise the caller did not
  // walk the roster backwards and relinking would corrupt the list.
  const prev = node.nodeListPrev;
  DRM_MM_BUG_ON(
    prev.nodeListNext !== node.nodeListNext,
    "drm_mm_scan_remove_block: nodes must leave the roster in reverse order of adding",
  );
  node.flags &= ~SCANNED;
  mm!.scan_active--;
  prev.nodeListNext = node;
  node.nodeListNext.nodeListPrev = node;

  return node.start + node.size > scan.hit_start && node.start < scan.hit_end;
}

/**
 * drm_mm_scan_color_evict - a node next to the evicted window that still conflicts by color.
 * Call after evicting the nodes selected by drm_mm_scan_remove_block(), and evict what it
 * returns, until it returns null. Always null without color_adjust.
 * Throws DrmMmBug if no hole contains the window (the scan found none, or the caller has
 * reused the space since).
 */
export function drm_mm_scan_color_evict(scan: drm_mm_scan): drm_mm_node | null {
  const mm = scan.mm;
  DRM_MM_BUG_ON(mm === null, "drm_mm_scan_color_evict: scan not initialized");
  const adjust = mm!.color_adjust;
  if (adjust === null) return null;

  // The window's hole is normally the newest, but evicting may have freed others after it.
  const stack = mm!.hole_stack;
  let hole = stack.holeStackNext;
  while (hole !== stack) {
    const hole_start = __drm_mm_hole_node_start(hole);
    if (hole_start <= scan.hit_start && hole_start + hole.hole_size >= scan.hit_end) break;
    hole = hole.holeStackNext;
  }
  DRM_MM_BUG_ON(hole === stack, "drm_mm_scan_color_evict: no hole contains the scan window");

  const bounds = mm!.colorAdjustBounds;
  bounds.start = __drm_mm_hole_node_start(hole);
  bounds.end = bounds.start + hole.hole_size;
  adjust(hole, scan.color, bounds);
  if (bounds.start > scan.hit_start) return hole;
  if (bounds.end < scan.hit_end) return hole.nodeListNext;
  return null;
}

// ------------------------------------------------------------------------------------------
// Debug output.

function hex8(x: number): string {
  return x.toString(16).padStart(8, "0");
}

/** `%#018llx` as the kernel prints it: "0x" and 16 hex digits, also for zero. */
function hex18(x: number): string {
  return `0x${x.toString(16).padStart(16, "0")}`;
}

function drm_mm_dump_hole(p: drm_printer, entry: drm_mm_node): number {
  const size = entry.hole_size;
  if (size !== 0) {
    const start = __drm_mm_hole_node_start(entry);
    p.printfn(`${hex18(start)}-${hex18(start + size)}: ${size}: free\n`);
  }
  return size;
}

/**
 * drm_mm_print - print every node and hole in address order, then the totals, in the format of
 * upstream's drm_mm_print().
 */
export function drm_mm_print(mm: drm_mm, p: drm_printer): void {
  let total_used = 0;
  let total_free = drm_mm_dump_hole(p, mm.head_node);
  for (const entry of drm_mm_for_each_node(mm)) {
    p.printfn(`${hex18(entry.start)}-${hex18(entry.start + entry.size)}: ${entry.size}: used\n`);
    total_used += entry.size;
    total_free += drm_mm_dump_hole(p, entry);
  }
  p.printfn(`total: ${total_used + total_free}, used ${total_used} free ${total_free}\n`);
}
