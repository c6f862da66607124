// The trace layer: event types and their encoding. Imports nothing.
export * from "./codec.js";
export * from "./events.js";
export * from "./hash.js";
