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
  type drm_mm,
  drm_mm_initialized,
  type drm_mm_node,
  drm_mm_node_allocated,
  drm_mm_node_scanned_block,
} from "./drm_mm.js";
import { checkRbTree, rb_first, rb_next, type rb_node, type rb_root } from "./rbtree.js";

/** Owners of a tree in order. Stops after `limit` nodes so that a cycle cannot hang it. */
function inOrder(root: rb_root<drm_mm_node>, limit: number): drm_mm_node[] {
  const out: drm_mm_node[] = [];
  for (let rb = rb_first(root); rb !== null && out.length <= limit; rb = rb_next(rb)) {
    out.push(rb.owner);
  }
  return out;
}

function subtreeMaxHoleProblem(rb: rb_node<drm_mm_node> | null): string | null {
  // Iterative post-order, so that a deep tree cannot overflow the stack.
  if (rb === null) return null;
  const done = new Set<rb_node<drm_mm_node>>();
  const stack: rb_node<drm_mm_node>[] = [rb];
  while (stack.length > 0) {
    const n = stack[stack.length - 1]!;
    if (n.rb_left !== null && !done.has(n.rb_left)) {
      stack.push(n.rb_left);
      continue;
    }
    if (n.rb_right !== null && !done.has(n.rb_right)) {
      stack.push(n.rb_right);
      continue;
    }
    stack.pop();
    done.add(n);
    const want = Math.max(
      n.owner.hole_size,
      n.rb_left?.owner.subtree_max_hole ?? 0,
      n.rb_right?.owner.subtree_max_hole ?? 0,
    );
    if (n.owner.subtree_max_hole !== want) {
      return `subtree_max_hole ${n.owner.subtree_max_hole} at hole ${n.owner.start + n.owner.size}, expected ${want}`;
    }
  }
  return null;
}

/**
 * Checks every invariant of `mm` and returns one line per violation; an empty list means the
 * allocator is consistent:
 * - every tree is a valid red-black tree with consistent parent links;
 * - allocated nodes (the interval tree) are in address order, inside the range, non-empty,
 *   non-overlapping, marked allocated and owned by `mm`; the cached leftmost is the first;
 * - the node list is the interval tree minus the nodes in a scan roster, linked both ways;
 * - every hole_size equals the gap to the next allocated node (the head owns the first gap),
 *   and nodes plus holes tile the range exactly;
 * - the nodes followed by a hole are exactly those in holes_size, holes_addr and hole_stack;
 * - holes_size is ordered largest first and caches the largest; holes_addr is ordered by hole
 *   start and every subtree_max_hole is the largest hole of its subtree;
 * - scan_active counts the nodes marked as scanned.
 */
export function drm_mm_check_invariants(mm: drm_mm): string[] {
  const problems: string[] = [];
  if (!drm_mm_initialized(mm)) return ["drm_mm is not initialized"];
  const head = mm.head_node;
  const rangeStart = head.start + head.size;
  const rangeEnd = head.start;
  if (drm_mm_node_allocated(head)) problems.push("head node is marked allocated");

  for (const [name, root] of [
    ["interval_tree", mm.interval_tree],
    ["holes_size", mm.holes_size],
    ["holes_addr", mm.holes_addr],
  ] as const) {
    const problem = checkRbTree(root);
    if (problem !== null) problems.push(`${name}: ${problem}`);
  }
  if (problems.length > 0) return problems;

  // Allocated nodes, from the interval tree. Cap walks generously in case of a cycle.
  const limit = 1 << 30;
  const nodes = inOrder(mm.interval_tree, limit);
  const first = mm.interval_tree.rb_leftmost;
  if ((first === null ? null : first.owner) !== (nodes[0] ?? null)) {
    problems.push("interval_tree: cached leftmost is not the lowest node");
  }
  let scanned = 0;
  let prevEnd = rangeStart;
  let usedSize = 0;
  for (const node of nodes) {
    const where = `node [${node.start} + ${node.size}]`;
    if (!drm_mm_node_allocated(node)) problems.push(`${where} in the tree is not allocated`);
    if (node.mm !== mm) problems.push(`${where} belongs to another drm_mm`);
    if (!(node.size > 0)) problems.push(`${where} is empty`);
    if (node.start < prevEnd) problems.push(`${where} overlaps its predecessor or the range start`);
    if (node.start + node.size > rangeEnd) problems.push(`${where} passes the range end`);
    if (drm_mm_node_scanned_block(node)) scanned++;
    prevEnd = node.start + node.size;
    usedSize += node.size;
  }
  if (scanned !== mm.scan_active) {
    problems.push(`scan_active is ${mm.scan_active} but ${scanned} nodes are scanned`);
  }

  // The node list holds the allocated nodes that are not in a roster, in the same order.
  const listed = nodes.filter((node) => !drm_mm_node_scanned_block(node));
  let cursor = head;
  for (let i = 0; i <= listed.length; i++) {
    const next = cursor.nodeListNext;
    if (next.nodeListPrev !== cursor) {
      problems.push(`node_list: back link broken after [${cursor.start} + ${cursor.size}]`);
      break;
    }
    const want = i < listed.length ? listed[i]! : head;
    if (next !== want) {
      problems.push(`node_list: entry ${i} is not the tree's node [${want.start} + ${want.size}]`);
      break;
    }
    cursor = next;
  }

  // Holes follow from the tree order: each owner's hole reaches the next allocated node.
  const owners = [head, ...nodes];
  const holders = new Set<drm_mm_node>();
  let freeSize = 0;
  for (let i = 0; i < owners.length; i++) {
    const owner = owners[i]!;
    const holeStart = owner.start + owner.size;
    const holeEnd = i + 1 < owners.length ? owners[i + 1]!.start : rangeEnd;
    if (owner.hole_size !== holeEnd - holeStart) {
      problems.push(
        `hole after ${holeStart}: hole_size ${owner.hole_size}, expected ${holeEnd - holeStart}`,
      );
    }
    if (owner.hole_size !== 0) holders.add(owner);
    freeSize += owner.hole_size;
  }
  if (usedSize + freeSize !== rangeEnd - rangeStart) {
    problems.push(`nodes (${usedSize}) and holes (${freeSize}) do not tile the range`);
  }

  // holes_size: the holders, largest first, with the largest cached.
  const bySize = inOrder(mm.holes_size, limit);
  checkSameSet("holes_size", bySize, holders, problems);
  for (let i = 1; i < bySize.length; i++) {
    if (bySize[i]!.hole_size > bySize[i - 1]!.hole_size) {
      problems.push(`holes_size: not largest first at position ${i}`);
      break;
    }
  }
  const largest = mm.holes_size.rb_leftmost;
  if ((largest === null ? null : largest.owner) !== (bySize[0] ?? null)) {
    problems.push("holes_size: cached leftmost is not the largest hole");
  }

  // holes_addr: the holders in address order, each subtree knowing its largest hole.
  const byAddr = inOrder(mm.holes_addr, limit);
  const wantByAddr = owners.filter((owner) => holders.has(owner));
  if (byAddr.length !== wantByAddr.length || byAddr.some((n, i) => n !== wantByAddr[i])) {
    problems.push("holes_addr: in-order walk is not the holes in address order");
  }
  const maxProblem = subtreeMaxHoleProblem(mm.holes_addr.rb_node);
  if (maxProblem !== null) problems.push(`holes_addr: ${maxProblem}`);

  // hole_stack: the holders, each once, linked both ways.
  const stacked: drm_mm_node[] = [];
  const stack = mm.hole_stack;
  for (let pos = stack.holeStackNext; pos !== stack; pos = pos.holeStackNext) {
    if (pos.holeStackNext.holeStackPrev !== pos) {
      problems.push("hole_stack: back link broken");
      break;
    }
    stacked.push(pos);
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
  found: readonly drm_mm_node[],
  want: ReadonlySet<drm_mm_node>,
  problems: string[],
): void {
  const seen = new Set(found);
  if (seen.size !== found.length) problems.push(`${name}: a hole is indexed twice`);
  if (seen.size !== want.size || found.some((n) => !want.has(n))) {
    problems.push(`${name}: indexes ${seen.size} holes but ${want.size} nodes have a hole`);
  }
}
