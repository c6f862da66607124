// Memory types and placement flags (include/drm/ttm/ttm_placement.h, ttm_resource.h constants,
// ttm_caching.h). Values are the kernel's.

export const TTM_PL_SYSTEM = 0;
export const TTM_PL_TT = 1;
export const TTM_PL_VRAM = 2;
export const TTM_PL_PRIV = 3;
export const TTM_NUM_MEM_TYPES = 9;
export const TTM_MAX_BO_PRIORITY = 4;
export const TTM_NUM_MOVE_FENCES = 8;

/** Contiguous pages are needed. */
export const TTM_PL_FLAG_CONTIGUOUS = 1 << 0;
/** Allocate from the top of the range. */
export const TTM_PL_FLAG_TOPDOWN = 1 << 1;
/** A multihop bounce place; a resource there is never "compatible". */
export const TTM_PL_FLAG_TEMPORARY = 1 << 2;
/** Only used in the first pass (no eviction). */
export const TTM_PL_FLAG_DESIRED = 1 << 3;
/** Only used in the second pass (eviction allowed). */
export const TTM_PL_FLAG_FALLBACK = 1 << 4;

/** struct ttm_place: one allowed location. `lpfn` 0 means "to the end of the manager". */
export interface ttm_place {
  readonly fpfn: number;
  readonly lpfn: number;
  readonly mem_type: number;
  readonly flags: number;
}

/** struct ttm_placement: the allowed locations in order of preference. Empty = drop the backing. */
export interface ttm_placement {
  readonly placement: readonly ttm_place[];
}

/** enum ttm_caching. */
export type ttm_caching = "uncached" | "write-combined" | "cached";
export const TTM_CACHINGS: readonly ttm_caching[] = ["uncached", "write-combined", "cached"];

/** A place for `mem_type` with `flags`, anywhere in the manager. */
export function ttm_place_init(mem_type: number, flags = 0): ttm_place {
  return { fpfn: 0, lpfn: 0, mem_type, flags };
}

/** A placement with the given places. */
export function ttm_placement_of(...places: ttm_place[]): ttm_placement {
  return { placement: places };
}

/** Short memory type name for traces and reports. */
export function memTypeName(mem_type: number): string {
  switch (mem_type) {
    case TTM_PL_SYSTEM:
      return "system";
    case TTM_PL_TT:
      return "tt";
    case TTM_PL_VRAM:
      return "vram";
    default:
      return `priv${mem_type - TTM_PL_PRIV}`;
  }
}
