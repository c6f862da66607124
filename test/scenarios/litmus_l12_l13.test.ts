// Litmus L12-L13 (history.md §3): pipelined moves, user memory touched under an object lock.
import { describe } from "vitest";
import { litmusVerdicts } from "./litmus_helpers.js";

describe("litmus L12-L13", () => litmusVerdicts(/^l1[23]-/));
