// Litmus L7-L11 (history.md §3): nopage and the truncate count, nopfn, sibling faults, remap in
// the fault handler, waiting for a busy object.
import { describe } from "vitest";
import { litmusVerdicts } from "./litmus_helpers.js";

describe("litmus L7-L11", () => litmusVerdicts(/^(l0[7-9]|l1[01])-/));
