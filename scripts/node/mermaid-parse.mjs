// Parse Mermaid diagrams with mermaid's own parser (mermaid.parse), headless through jsdom.
// stdin: a JSON array of diagram texts (without the ``` fences).
// stdout: a JSON array of {"ok": true, "type": "..."} or {"ok": false, "error": "..."}, one per diagram.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

const texts = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const text of texts) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (error) {
    results.push({ ok: false, error: String((error && error.message) || error) });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
process.exit(0);
