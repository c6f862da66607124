// The drm_mm consistency checker: recomputes, from the tree of allocated nodes alone, what every
// other structure of a drm_mm must hold, and reports each disagreement. It plays the part of
// the kernel's CONFIG_DRM_DEBUG_MM checks and of the invariants in reference/drm_mm.md §5, and
// it is what the property tests call after every operation. It observes and never mutates.
//
// It is valid at any time, including while an eviction scan has nodes in its roster: scanned
// nodes are unlinked from the node list but stay in every tree, and the hole indexes keep
// describing the allocator as it was before the scan, so the checker derives the holes from the
// tree of allocated nodes rather than from the list.

import {
  A_KEY,
  A_LEFT,
  A_RIGHT,
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
  LIST_NEXT,
  LIST_PREV,
  MAX_LEFT,
  MAX_RIGHT,
  SIZE_CLASS,
  SIZE_NEXT,
  SIZE_PREV,
  SLOT_STRIDE,
  STACK_NEXT,
  STACK_PREV,
  STACK_SLOT,
  START,
  subtreeMaxHole,
} from "./drm_mm.js";
import { checkRbTree, RB_NIL, rb_first, rb_next, type rb_root } from "./rbtree.js";

/** Slots of a tree in order. Stops after `limit` entries so that a cycle cannot hang it. */
function inOrder(heap: Float64Array, root: rb_root, limit: number): number[] {
  const out: number[] = [];
  for (let n = rb_first(heap, root); n !== RB_NIL && out.length <= limit; ) {
    out.push(n);
    n = rb_next(heap, root.layout, n);
  }
  return out;
}

function maxHoleProblem(heap: Float64Array, slots: readonly number[]): string | null {
  for (const n of slots) {
    for (const [side, child] of [
      [MAX_LEFT, heap[n + A_LEFT]!],
      [MAX_RIGHT, heap[n + A_RIGHT]!],
    ] as const) {
      const want = subtreeMaxHole(heap, child);
      if (heap[n + side] !== want) {
        const which = side === MAX_LEFT ? "left" : "right";
        const at = heap[n + A_KEY];
        return `${which} subtree_max_hole ${heap[n + side]} at ${at}, expected ${want}`;
      }
    }
  }
  return null;
}

/**
 * Checks every invariant of `mm` and returns one line per violation; an empty list means the
 * allocator is consistent:
 * - both trees are valid red-black trees with consistent parent links, and the null slot has
 *   never been written;
 * - holes_addr holds the head node and then every allocated node in address order; those are
 *   inside the range, non-empty, non-overlapping, marked allocated, owned by `mm`, and own
 *   their slot; every subtree_max_hole is the largest hole_size of its subtree;
 * - the node list is that order minus the nodes in a scan roster, linked both ways;
 * - every hole_size equals the gap to the next allocated node (the head owns the first gap),
 *   and nodes plus holes tile the range exactly;
 * - the nodes followed by a hole are exactly those in holes_size and hole_stack;
 * - holes_size is a tree of size classes, one per distinct hole size, largest first, caching
 *   the largest, each listing exactly the holes of its size;
 * - scan_active counts the nodes marked as scanned.
 */
export function drm_mm_check_invariants(mm: drm_mm): string[] {
  const problems: string[] = [];
  if (!drm_mm_initialized(mm)) return ["drm_mm is not initialized"];
  const heap = mm.heap;
  const head = mm.head_node;
  const rangeStart = head.start + head.size;
  const rangeEnd = head.start;
  if (drm_mm_node_allocated(head)) problems.push("head node is marked allocated");
  for (let i = 0; i < SLOT_STRIDE; i++) {
    if (heap[i] !== 0) problems.push(`null slot field ${i} was written`);
  }
  if (heap[HEAD_SLOT + A_KEY] !== rangeStart || heap[HEAD_SLOT + START] !== rangeEnd) {
    problems.push("head slot keys do not match the range");
  }

  const addrProblem = checkRbTree(heap, mm.holes_addr);
  if (addrProblem !== null) problems.push(`holes_addr: ${addrProblem}`);
  const sizeProblem = checkRbTree(mm.sizeClasses, mm.holes_size);
  if (sizeProblem !== null) problems.push(`holes_size: ${sizeProblem}`);
  for (let i = 0; i < CLASS_STRIDE; i++) {
    if (mm.sizeClasses[i] !== 0) problems.push(`null size class field ${i} was written`);
  }
  if (problems.length > 0) return problems;

  // Every node, from holes_addr: the head node first, then the allocated nodes.
  const limit = mm.nextSlot / SLOT_STRIDE;
  const byAddr = inOrder(heap, mm.holes_addr, limit);
  if (byAddr[0] !== HEAD_SLOT) problems.push("holes_addr: the head node is not first");
  const slots = byAddr.slice(1);
  const nodes: drm_mm_node[] = [];
  let scanned = 0;
  let prevEnd = rangeStart;
  let usedSize = 0;
  for (const n of slots) {
    const node = mm.slotNodes[n / SLOT_STRIDE];
    if (node === undefined || node.slot !== n) {
      problems.push(`slot ${n} in holes_addr has no node that owns it`);
      return problems;
    }
    nodes.push(node);
    const where = `node [${node.start} + ${node.size}]`;
    if (!drm_mm_node_allocated(node)) problems.push(`${where} in the tree is not allocated`);
    if (node.mm !== mm) problems.push(`${where} belongs to another drm_mm`);
    if (!(node.size > 0)) problems.push(`${where} is empty`);
    if (heap[n + START] !== node.start || heap[n + A_KEY] !== node.start + node.size) {
      problems.push(`${where}: slot keys disagree with the node`);
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
  const maxProblem = maxHoleProblem(heap, byAddr);
  if (maxProblem !== null) problems.push(`holes_addr: ${maxProblem}`);

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
    const holeStart = heap[n + A_KEY]!;
    const holeEnd = i + 1 < owners.length ? heap[owners[i + 1]! + START]! : rangeEnd;
    const size = heap[n + HOLE_SIZE]!;
    if (size !== holeEnd - holeStart) {
      problems.push(`hole after ${holeStart}: hole_size ${size}, expected ${holeEnd - holeStart}`);
    }
    if (size !== 0) holders.add(n);
    freeSize += size;
  }
  if (usedSize + freeSize !== rangeEnd - rangeStart) {
    problems.push(`nodes (${usedSize}) and holes (${freeSize}) do not tile the range`);
  }

  // holes_size: a tree of size classes, largest first with the largest cached, each listing the
  // holes of its size. Together they index exactly the holders.
  const classes = mm.sizeClasses;
  const classSlots = inOrder(classes, mm.holes_size, mm.nextClass / CLASS_STRIDE);
  const bySize: number[] = [];
  for (let i = 0; i < classSlots.length; i++) {
    const c = classSlots[i]!;
    const size = classes[c + C_KEY]!;
    if (i > 0 && !(size < classes[classSlots[i - 1]! + C_KEY]!)) {
      problems.push(`holes_size: classes not strictly largest first at position ${i}`);
    }
    if (classes[c + C_FIRST] === RB_NIL) problems.push(`holes_size: class ${size} is empty`);
    for (let n = classes[c + C_FIRST]!, prev = RB_NIL; n !== RB_NIL; ) {
      if (heap[n + SIZE_PREV] !== prev) problems.push("holes_size: class list back link broken");
      if (heap[n + SIZE_CLASS] !== c) problems.push(`holes_size: hole not linked to class ${size}`);
      if (heap[n + HOLE_SIZE] !== size)
        problems.push(`holes_size: hole of another size in ${size}`);
      bySize.push(n);
      if (bySize.length > owners.length) {
        problems.push("holes_size: a class list has a cycle");
        return problems;
      }
      prev = n;
      n = heap[n + SIZE_NEXT]!;
    }
  }
  checkSameSet("holes_size", bySize, holders, problems);
  if (mm.holes_size.rb_leftmost !== (classSlots[0] ?? RB_NIL)) {
    problems.push("holes_size: cached leftmost is not the largest class");
  }
  const liveClasses = new Set(classSlots);
  if (mm.freeClasses.some((c) => liveClasses.has(c))) problems.push("a free size class is in use");

  // hole_stack: the holders, each once, linked both ways.
  const stacked: number[] = [];
  for (let n = heap[STACK_SLOT + STACK_NEXT]!; n !== STACK_SLOT; n = heap[n + STACK_NEXT]!) {
    if (heap[heap[n + STACK_NEXT]! + STACK_PREV] !== n) {
      problems.push("hole_stack: back link broken");
      break;
    }
    stacked.push(n);
    if (stacked.length > owners.length) {
      problems.push("hole_stack: longer than the number of possible holes (a cycle?)");
      break;
    }
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
