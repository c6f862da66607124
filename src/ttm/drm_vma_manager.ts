// The DRM vma offset manager (drivers/gpu/drm/drm_vma_manager.c): hands every mappable
// object a unique range of fake file offsets in the device's address_space, so that
// unmap_mapping_range() on that range reaches exactly that object's mappings in every process.
// It is itself a drm_mm. Offsets are in pages.
//
// Left out: per-file access control (drm_vma_node_allow), the rbtree lookup by offset (a list
// scan is enough for the model's object counts).

import {
  DRM_MM_INSERT_BEST,
  drm_mm,
  drm_mm_init,
  drm_mm_insert_node_in_range,
  drm_mm_node,
  drm_mm_remove_node,
} from "../drm_mm/drm_mm.js";
import type { address_space } from "../kernel/fs.js";
import { unmap_mapping_range } from "../kernel/memory.js";
import type { Gen } from "../kernel/sched.js";

/** struct drm_vma_offset_node. */
export class drm_vma_offset_node {
  readonly vm_node = new drm_mm_node();
  /** The object this offset maps. */
  owner: unknown = null;
}

/** struct drm_vma_offset_manager. */
export class drm_vma_offset_manager {
  readonly vm_addr_space_mm = new drm_mm();
  readonly nodes = new Set<drm_vma_offset_node>();
}

/** The start of the DRM fake-offset space, in pages (DRM_FILE_PAGE_OFFSET_START is 4 GiB). */
export const DRM_FILE_PAGE_OFFSET_START = 0x100000;
const DRM_FILE_PAGE_OFFSET_SIZE = 0x10000000;

/** drm_vma_offset_manager_init(). */
export function drm_vma_offset_manager_init(): drm_vma_offset_manager {
  const mgr = new drm_vma_offset_manager();
  drm_mm_init(mgr.vm_addr_space_mm, DRM_FILE_PAGE_OFFSET_START, DRM_FILE_PAGE_OFFSET_SIZE);
  return mgr;
}

/** drm_vma_offset_add(): gives `node` `pages` pages of fake offset; 0 or -ENOSPC. */
export function drm_vma_offset_add(
  mgr: drm_vma_offset_manager,
  node: drm_vma_offset_node,
  pages: number,
): number {
  if (mgr.nodes.has(node)) return 0;
  const ret = drm_mm_insert_node_in_range(
    mgr.vm_addr_space_mm,
    node.vm_node,
    pages,
    0,
    0,
    0,
    Number.MAX_SAFE_INTEGER,
    DRM_MM_INSERT_BEST,
  );
  if (ret === 0) mgr.nodes.add(node);
  return ret;
}

/** drm_vma_offset_remove(). */
export function drm_vma_offset_remove(
  mgr: drm_vma_offset_manager,
  node: drm_vma_offset_node,
): void {
  if (!mgr.nodes.delete(node)) return;
  drm_mm_remove_node(node.vm_node);
}

/** drm_vma_offset_lookup_locked(): the node whose range contains page offset `start`. */
export function drm_vma_offset_lookup(
  mgr: drm_vma_offset_manager,
  start: number,
  pages: number,
): drm_vma_offset_node | null {
  for (const node of mgr.nodes) {
    const n = node.vm_node;
    if (start >= n.start && start + pages <= n.start + n.size) return node;
  }
  return null;
}

/** drm_vma_node_start(). */
export function drm_vma_node_start(node: drm_vma_offset_node): number {
  return node.vm_node.start;
}

/** drm_vma_node_size(). */
export function drm_vma_node_size(node: drm_vma_offset_node): number {
  return node.vm_node.size;
}

/** drm_vma_node_has_offset(). */
export function drm_vma_node_has_offset(node: drm_vma_offset_node): boolean {
  return node.vm_node.mm !== null && node.vm_node.size > 0 && (node.vm_node.flags & 1) !== 0;
}

/** drm_vma_node_unmap(): zaps every user mapping of the node's range. */
export function drm_vma_node_unmap(node: drm_vma_offset_node, file_mapping: address_space): Gen {
  return unmap_mapping_range(
    file_mapping,
    drm_vma_node_start(node),
    drm_vma_node_size(node),
    true,
    "drm_vma_node_unmap",
  );
}
