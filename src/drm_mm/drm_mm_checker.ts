// The drm_mm consistency checker: recomputes, from the tree of allocated nodes alone, what every
// other structure of a drm_mm must hold, and reports each disagreement. It plays the part of
// the kernel's CONFIG_DRM_DEBUG_MM checks and of the invariants in reference/drm_mm.md §5, and
// it is what the property tests call after every operation. It observes and never mutates.
//
// It is valid at any time, including while an eviction scan has nodes in its roster: scanned
// nodes are unlinked from the node list but stay in every tree, and the hole indexes keep
// describing the allocator as it was before the scan, so the checker derives the holes from the
// tree of allocated nodes rather than from the list.

import { checkAddrTree } from "./addr_tree.js";
import {
  C_FIRST,
  C_KEY,
  CLASS_STRIDE,
  type drm_mm,
  drm_mm_initialized,
  type drm_mm_node,
  drm_mm_node_allocated,
  drm_mm_node_scanned_block,
  HEAD_SLOT,
  HOLE_SIZE,
  KEY,
  LIST_NEXT,
  LIST_PREV,
  SIZE_HEAD,
  SIZE_NEXT,
  SIZE_PREV,
  SLOT_SHIFT,
  SLOT_STRIDE,
  SMALL_HOLE_SIZES,
  SMALL_WORDS,
  STACK_POS,
  STACK_TOMBSTONE,
} from "./drm_mm.js";
import { checkRbTree, RB_NIL, rb_first, rb_next, type rb_root } from "./rbtree.js";

/** Slots of a tree in order. Stops after `limit` entries so that a cycle cannot hang it. */
function inOrder(heap: Int32Array, root: rb_root, limit: number): number[] {
  const out: number[] = [];
  for (let n = rb_first(heap, root); n !== RB_NIL && out.length <= limit; ) {
    out.push(n);
    n = rb_next(heap, root.layout, n);
  }
  return out;
}

/**
 * Checks every invariant of `mm` and returns one line per violation; an empty list means the
 * allocator is consistent:
 * - holes_addr is a valid B+tree (see addr_tree.ts: balanced, filled, bounds on the holes,
 *   keys, parent and leaf links), the class tree a valid red-black tree, and the null slot, null class and null
 *   tree node have never been written;
 * - holes_addr holds the head node and then every allocated node in address order; those are
 *   inside the range, non-empty, non-overlapping, marked allocated, owned by `mm`, and own
 *   their slot, whose key is the node's end;
 * - the node list is that order minus the nodes in a scan roster, linked both ways;
 * - every hole_size equals the gap to the next allocated node (the head owns the first gap),
 *   and nodes plus holes tile the range exactly;
 * - the nodes followed by a hole are exactly those in holes_size and hole_stack;
 * - holes_size lists each hole with the others of its size, newest first: sizes below
 *   SMALL_HOLE_SIZES in `smallFirst` with bitmaps that mark exactly the sizes that have holes,
 *   larger ones in a tree of non-empty size classes, largest first and cached, that
 *   `classBySize` finds;
 * - hole_stack's live entries know their index, it counts them, and its top entry is live;
 * - scan_active counts the nodes marked as scanned.
 */
export function drm_mm_check_invariants(mm: drm_mm): string[] {
  const problems: string[] = [];
  if (!drm_mm_initialized(mm)) return ["drm_mm is not initialized"];
  const heap = mm.heap;
  const vals = mm.heapVals;
  const head = mm.head_node;
  const rangeStart = head.start + head.size;
  const rangeEnd = head.start;
  if (drm_mm_node_allocated(head)) problems.push("head node is marked allocated");
  for (let i = 0; i < SLOT_STRIDE; i++) {
    if (heap[i] !== 0) problems.push(`null slot field ${i} was written`);
  }
  if (vals[(HEAD_SLOT >> 1) + KEY] !== rangeStart) {
    problems.push("head slot key is not the range start");
  }

  const limit = mm.nextSlot / SLOT_STRIDE;
  const addr = checkAddrTree(mm.holes_addr, heap, vals, limit);
  if ("problem" in addr) problems.push(`holes_addr: ${addr.problem}`);
  const sizeProblem = checkRbTree(mm.sizeClasses, mm.holes_size);
  if (sizeProblem !== null) problems.push(`holes_size: ${sizeProblem}`);
  for (let i = 0; i < CLASS_STRIDE; i++) {
    if (mm.sizeClasses[i] !== 0) problems.push(`null size class field ${i} was written`);
  }
  if (problems.length > 0 || "problem" in addr) return problems;

  // Every node, from holes_addr: the head node first, then the allocated nodes.
  const byAddr = addr.slots;
  if (byAddr[0] !== HEAD_SLOT) problems.push("holes_addr: the head node is not first");
  const slots = byAddr.slice(1);
  const nodes: drm_mm_node[] = [];
  let scanned = 0;
  let prevEnd = rangeStart;
  let usedSize = 0;
  for (const n of slots) {
    const node = mm.slotNodes[n >> SLOT_SHIFT];
    if (node === undefined || node.slot !== n) {
      problems.push(`slot ${n} in holes_addr has no node that owns it`);
      return problems;
    }
    nodes.push(node);
    const where = `node [${node.start} + ${node.size}]`;
    if (!drm_mm_node_allocated(node)) problems.push(`${where} in the tree is not allocated`);
    if (node.mm !== mm) problems.push(`${where} belongs to another drm_mm`);
    if (!(node.size > 0)) problems.push(`${where} is empty`);
    if (vals[(n >> 1) + KEY] !== node.start + node.size) {
      problems.push(`${where}: slot key disagrees with the node`);
    }
    if (node.start < prevEnd) problems.push(`${where} overlaps its predecessor or the range start`);
    if (node.start + node.size > rangeEnd) problems.push(`${where} passes the range end`);
    if (drm_mm_node_scanned_block(node)) scanned++;
    prevEnd = node.start + node.size;
    usedSize += node.size;
  }
  if (scanned !== mm.scan_active) {
    problems.push(`scan_active is ${mm.scan_active} but ${scanned} nodes are scanned`);
  }
  const inUse = new Set(byAddr);
  if (mm.freeSlots.some((n) => inUse.has(n))) problems.push("a free slot is in use");

  // The node list holds the allocated nodes that are not in a roster, in the same order.
  const listed = slots.filter((_, i) => !drm_mm_node_scanned_block(nodes[i]!));
  let cursor = HEAD_SLOT;
  for (let i = 0; i <= listed.length; i++) {
    const next = heap[cursor + LIST_NEXT]!;
    if (heap[next + LIST_PREV] !== cursor) {
      problems.push(`node_list: back link broken after slot ${cursor}`);
      break;
    }
    const want = i < listed.length ? listed[i]! : HEAD_SLOT;
    if (next !== want) {
      problems.push(`node_list: entry ${i} is not the tree's node in slot ${want}`);
      break;
    }
    cursor = next;
  }

  // Holes follow from the tree order: each owner's hole reaches the next allocated node.
  const owners = [HEAD_SLOT, ...slots];
  const holders = new Set<number>();
  let freeSize = 0;
  for (let i = 0; i < owners.length; i++) {
    const n = owners[i]!;
    const holeStart = vals[(n >> 1) + KEY]!;
    const holeEnd = i + 1 < owners.length ? nodes[i]!.start : rangeEnd;
    const size = vals[(n >> 1) + HOLE_SIZE]!;
    if (size !== holeEnd - holeStart) {
      problems.push(`hole after ${holeStart}: hole_size ${size}, expected ${holeEnd - holeStart}`);
    }
    if (size !== 0) holders.add(n);
    freeSize += size;
  }
  if (usedSize + freeSize !== rangeEnd - rangeStart) {
    problems.push(`nodes (${usedSize}) and holes (${freeSize}) do not tile the range`);
  }

  // holes_size: lists of the holes of each size, newest first, found through the small-size
  // bitmaps or the class tree. Together they index exactly the holders.
  const bySize: number[] = [];
  const walk = (first: number, size: number): void => {
    for (let n = first, prev = SIZE_HEAD; n !== RB_NIL; ) {
      if (heap[n + SIZE_PREV] !== prev) problems.push(`holes_size: list ${size}: back link broken`);
      if (vals[(n >> 1) + HOLE_SIZE] !== size)
        problems.push(`holes_size: list ${size}: wrong size`);
      bySize.push(n);
      if (bySize.length > owners.length) {
        problems.push(`holes_size: list ${size} has a cycle`);
        return;
      }
      prev = n;
      n = heap[n + SIZE_NEXT]!;
    }
  };
  for (let size = 0; size < SMALL_HOLE_SIZES; size++) {
    const first = mm.smallFirst[size] ?? RB_NIL;
    const bit = (mm.smallBits[size >> 5]! >>> (size & 31)) & 1;
    if (bit !== (first === RB_NIL ? 0 : 1)) problems.push(`holes_size: bit of size ${size} wrong`);
    if (size === 0 && first !== RB_NIL) problems.push("holes_size: a hole of size 0");
    walk(first, size);
  }
  for (let w = 0; w < SMALL_WORDS; w++) {
    const bit = (mm.smallSummary[w >> 5]! >>> (w & 31)) & 1;
    if (bit !== (mm.smallBits[w] === 0 ? 0 : 1))
      problems.push(`holes_size: summary bit ${w} wrong`);
  }
  const classes = mm.sizeClasses;
  const classSlots = inOrder(classes, mm.holes_size, mm.nextClass / CLASS_STRIDE);
  for (let i = 0; i < classSlots.length; i++) {
    const c = classSlots[i]!;
    const size = mm.sizeClassKeys[(c >> 1) + C_KEY]!;
    if (i > 0 && !(size < mm.sizeClassKeys[(classSlots[i - 1]! >> 1) + C_KEY]!)) {
      problems.push(`holes_size: classes not strictly largest first at position ${i}`);
    }
    if (size < SMALL_HOLE_SIZES) problems.push(`holes_size: class ${size} is a small size`);
    if (mm.classBySize.get(size) !== c) problems.push(`holes_size: class ${size} is not mapped`);
    if (classes[c + C_FIRST] === RB_NIL) problems.push(`holes_size: class ${size} is empty`);
    walk(classes[c + C_FIRST]!, size);
  }
  checkSameSet("holes_size", bySize, holders, problems);
  if (mm.classBySize.size !== classSlots.length) {
    problems.push(`holes_size: ${classSlots.length} classes, ${mm.classBySize.size} mapped`);
  }
  if (mm.holes_size.rb_leftmost !== (classSlots[0] ?? RB_NIL)) {
    problems.push("holes_size: cached leftmost is not the largest class");
  }
  const liveClasses = new Set(classSlots);
  if (mm.freeClasses.some((c) => liveClasses.has(c))) problems.push("a free size class is in use");

  // hole_stack: the holders, each once, each knowing its index; the top entry is live.
  const log = mm.hole_stack;
  const len = mm.hole_stack_len;
  if (!(len >= 0 && len <= log.length)) problems.push(`hole_stack: length ${len} out of bounds`);
  if (len > 0 && log[len - 1] === STACK_TOMBSTONE)
    problems.push("hole_stack: the top is a tombstone");
  const stacked: number[] = [];
  for (let i = 0; i < len; i++) {
    const n = log[i]!;
    if (n === STACK_TOMBSTONE) continue;
    if (heap[n + STACK_POS] !== i) problems.push(`hole_stack: entry ${i} does not know its index`);
    stacked.push(n);
  }
  if (stacked.length !== mm.hole_stack_live) {
    problems.push(`hole_stack: ${stacked.length} live entries, counted ${mm.hole_stack_live}`);
  }
  checkSameSet("hole_stack", stacked, holders, problems);
  return problems;
}

function checkSameSet(
  name: string,
  found: readonly number[],
  want: ReadonlySet<number>,
  problems: string[],
): void {
  const seen = new Set(found);
  if (seen.size !== found.length) problems.push(`${name}: a hole is indexed twice`);
  if (seen.size !== want.size || found.some((n) => !want.has(n))) {
    problems.push(`${name}: indexes ${seen.size} holes but ${want.size} nodes have a hole`);
  }
}
