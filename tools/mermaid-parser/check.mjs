// Parse Mermaid diagrams with Mermaid's own parser (no rendering, no browser).
// In: a JSON array of diagram texts on stdin. Out: a JSON array, one entry per diagram:
//   {"ok": true, "type": "<diagram type>", "labels": {...}, "titles": [...]}
//   {"ok": false, "error": "<parser message>"}
// For flowcharts, `labels` maps node ids to their label lines and `titles` lists subgraph
// titles, as a reader sees them: entity codes (#quot;, #35;, ...) decoded, <br> as line breaks.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

// Mermaid swaps `#code;` for placeholders before parsing and back to HTML entities on render.
function shown(text) {
  const html = text.replace(/ﬂ°°(\d+)¶ß/g, "&#$1;").replace(/ﬂ°(\w+)¶ß/g, "&$1;");
  return html.split(/<br\s*\/?>/).map((part) => {
    const holder = document.createElement("div");
    holder.innerHTML = part;
    return holder.textContent;
  });
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    const result = { ok: true, type: parsed.diagramType };
    if (parsed.diagramType.startsWith("flowchart")) {
      const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
      result.labels = Object.fromEntries(
        [...diagram.db.getVertices().values()].map((v) => [v.id, shown(v.text)]),
      );
      result.titles = diagram.db.getSubGraphs().map((s) => shown(s.title));
    }
    results.push(result);
  } catch (error) {
    results.push({ ok: false, error: String(error?.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(results));
