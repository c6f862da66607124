// The self-contained report page: the data the browser viewer shows, and the HTML file that
// carries it with the viewer's script and style inlined. Nothing on the page is fetched: a
// Content-Security-Policy forbids every network request, so the file works offline and says
// so to the browser.

import type { TraceEvent } from "../trace/index.js";

export const VIEWER_FORMAT = "faultline/viewer@1";

/** One counterexample the page can show: a trace and the finding to focus on. */
export interface ViewerCase {
  readonly scenario: string;
  /** The kind of the finding this case is about (the first finding event of that kind). */
  readonly kind: string;
  readonly message: string;
  /** The replay token, or "" when the trace came without one. */
  readonly replay: string;
  /** The kernel-style report (lockdep splat, hung-task report, oops), when one applies. */
  readonly report?: string;
  readonly events: readonly TraceEvent[];
}

export interface ViewerData {
  readonly format: typeof VIEWER_FORMAT;
  readonly title: string;
  readonly cases: readonly ViewerCase[];
}

/** The built viewer: its script (an IIFE) and its style sheet. */
export interface ViewerBundle {
  readonly js: string;
  readonly css: string;
}

/** The id of the script element that holds the page's data as JSON. */
export const DATA_ELEMENT_ID = "faultline-data";

const escapeHtml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * JSON that is safe inside a script element: every "<" is escaped, so neither "</script>" nor
 * "<!--" can end or confuse the element.
 */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function inline(code: string, closing: string, what: string): string {
  if (code.toLowerCase().includes(closing))
    throw new Error(`the viewer's ${what} contains "${closing}" and cannot be inlined`);
  return code;
}

/** The page: one HTML file with the data, the script and the style inside. */
export function viewerHtml(data: ViewerData, bundle: ViewerBundle): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="faultline">
<title>${escapeHtml(data.title)}</title>
<style>
${inline(bundle.css, "</style", "style sheet")}
</style>
</head>
<body>
<noscript>This report needs JavaScript to show the counterexample.</noscript>
<div id="app"></div>
<script type="application/json" id="${DATA_ELEMENT_ID}">${scriptJson(data)}</script>
<script>
${inline(bundle.js, "</script", "script")}
</script>
</body>
</html>
`;
}

/** Reads the page's data back (the browser side of viewerHtml). */
export function parseViewerData(json: string): ViewerData {
  const data = JSON.parse(json) as Partial<ViewerData>;
  if (data.format !== VIEWER_FORMAT || !Array.isArray(data.cases))
    throw new Error(`this page's data is not ${VIEWER_FORMAT}`);
  return data as ViewerData;
}
