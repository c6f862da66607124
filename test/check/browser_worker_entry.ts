// The checker core inside a browser Web Worker (bundled by browser_worker.test.ts): it takes a
// scenario's text and answers with the result of checking it, as JSON. Nothing here but the
// core: if src/check, src/scenarios and what they stand on needed Node, this would not run.
import { checkScenario } from "../../src/scenarios/check.js";
import { loadScenario } from "../../src/scenarios/loader.js";

interface WorkerScope {
  onmessage: ((event: { data: { text: string; source: string } }) => void) | null;
  postMessage(message: string): void;
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (event) => {
  const { text, source } = event.data;
  const result = checkScenario(loadScenario(text, source), { source });
  scope.postMessage(JSON.stringify(result));
};
