// Litmus L1-L6 (history.md §3): the lock-all-mmap design against modern TTM and Ben's recipe.
import { describe } from "vitest";
import { litmusVerdicts } from "./litmus_helpers.js";

describe("litmus L1-L6", () => litmusVerdicts(/^l0[1-6]-/));
