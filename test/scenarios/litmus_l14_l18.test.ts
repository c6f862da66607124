// Litmus L14-L18 (history.md §3): concurrent unmaps, one address_space per device, caching
// changes, freeing memory that is still mapped, multi-BO reservation.
import { describe } from "vitest";
import { litmusVerdicts } from "./litmus_helpers.js";

describe("litmus L14-L18", () => litmusVerdicts(/^l1[4-8]-/));
