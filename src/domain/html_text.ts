/**
 * HTML bodies as plain text, for finding forward marks in messages that have no text part.
 * html-to-text (the converter mailparser itself uses) parses the HTML and decodes its entities;
 * the options here only shape its output like a client's own text part.
 */
import { convert } from "html-to-text";

// Inline elements a client wraps around the last line of a block ("<div><span>…<br></span></div>").
const INLINE = new Set(["span", "b", "strong", "em", "i", "u", "font", "a"]);
const BLOCK = new Set(["p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "blockquote"]);

/** The part of html-to-text's DOM node (domhandler's) that the line-break formatter reads. */
interface DomNode {
  type: string;
  name?: string;
  data?: string;
  next: DomNode | null;
  parent: DomNode | null;
}

/** html-to-text's block builder, as far as the line-break formatter uses it. */
interface Builder {
  addLineBreak(): void;
}

function lastInBlock(br: DomNode): boolean {
  const blankAfter = (n: DomNode) => {
    for (let s = n.next; s; s = s.next) {
      if (s.type !== "text" || (s.data ?? "").trim() !== "") return false;
    }
    return true;
  };
  let node: DomNode = br;
  while (blankAfter(node) && node.parent && INLINE.has(node.parent.name ?? "")) {
    node = node.parent;
  }
  return blankAfter(node) && node.parent !== null && BLOCK.has(node.parent.name ?? "");
}

// Bounds that keep a hostile body cheap. htmlparser2, under html-to-text, slows down with the
// depth of the tree (200,000 nested "<a>": 17 s) and html-to-text walks it recursively (a few
// thousand levels overflow the stack), so only the HTML before the first element nested deeper
// than MAX_DEPTH is converted; flat HTML costs about 1 s per MB, hence MAX_HTML_CHARS, which
// still holds the 200,000 characters of text the classifier reads under most markup.
const MAX_HTML_CHARS = 1_000_000;
const MAX_DEPTH = 500;

// As mailparser's own depth check: elements that never nest, and those the parser closes when a
// sibling opens (a run of unclosed <td> or <p> does not nest).
const VOID = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "param",
  "source",
  "track",
  "wbr",
]);
const IMPLIED_END = new Set([
  "p",
  "li",
  "dt",
  "dd",
  "option",
  "optgroup",
  "tr",
  "td",
  "th",
  "thead",
  "tbody",
  "tfoot",
  "rt",
  "rp",
]);

/**
 * Where `html` first opens an element deeper than `max`, else its length: one linear pass that
 * follows the tree htmlparser2 builds (an end tag closes down to the nearest open element of its
 * name and is ignored otherwise; comments are skipped).
 */
function depthCut(html: string, max: number): number {
  const name = /[A-Za-z][A-Za-z0-9:_-]*/y;
  const stack: string[] = [];
  const open = new Map<string, number>();
  for (let i = html.indexOf("<"); i >= 0;) {
    if (html.startsWith("!--", i + 1)) {
      const end = html.indexOf("-->", i + 4);
      i = end < 0 ? -1 : html.indexOf("<", end + 3);
      continue;
    }
    const closing = html[i + 1] === "/";
    name.lastIndex = i + (closing ? 2 : 1);
    const m = name.exec(html);
    if (!m) {
      i = html.indexOf("<", i + 1);
      continue;
    }
    const end = html.indexOf(">", name.lastIndex);
    if (end < 0) break;
    const tag = m[0].toLowerCase();
    if (!VOID.has(tag) && !IMPLIED_END.has(tag)) {
      if (!closing) {
        stack.push(tag);
        open.set(tag, (open.get(tag) ?? 0) + 1);
        if (stack.length > max) return i;
      } else if (open.get(tag)) {
        let popped: string;
        do {
          popped = stack.pop()!;
          open.set(popped, open.get(popped)! - 1);
        } while (popped !== tag);
      }
    }
    i = html.indexOf("<", end + 1);
  }
  return html.length;
}

const OPTIONS = {
  // Past maxInputLength the library writes to stderr; the input is cut to MAX_HTML_CHARS first.
  limits: { maxDepth: MAX_DEPTH + 10, ellipsis: "", maxInputLength: MAX_HTML_CHARS },
  wordwrap: false,
  formatters: {
    // A <br> that ends a block (Apple Mail: "<span>…<br></span></div>") adds no line of its own,
    // as in a browser; html-to-text would write an empty line there.
    lineBreakInside: (elem: DomNode, _walk: unknown, builder: Builder) => {
      if (!lastInBlock(elem)) builder.addLineBreak();
    },
  },
  selectors: [
    { selector: "br", format: "lineBreakInside" },
    { selector: "a", options: { ignoreHref: true } },
    { selector: "img", format: "skip" },
    // Outlook's own text part writes a line of underscores for <hr>.
    {
      selector: "hr",
      format: "blockString",
      options: { string: "_".repeat(32), leadingLineBreaks: 1, trailingLineBreaks: 1 },
    },
    // Layout tables (Outlook's header blocks): a row is a line, cells are set apart by a space.
    { selector: "tr", format: "block", options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
    { selector: "td", format: "inlineSurround", options: { prefix: " ", suffix: " " } },
    { selector: "th", format: "inlineSurround", options: { prefix: " ", suffix: " " } },
    ...["h1", "h2", "h3", "h4", "h5", "h6"].map((selector) => ({
      selector,
      options: { uppercase: false, leadingLineBreaks: 2, trailingLineBreaks: 2 },
    })),
    // List items are lines, without the bullets html-to-text would add.
    ...["ul", "ol", "li"].map((selector) => ({
      selector,
      format: "block",
      options: { leadingLineBreaks: 1, trailingLineBreaks: 1 },
    })),
  ],
};

/**
 * A plain-text rendering of an HTML body, good enough to find forward marks: tags dropped,
 * entities decoded, line breaks kept for <br>, <p>, <div> and other blocks, "> " before lines of
 * a <blockquote>, and a line for <hr>. Reads at most the first 1,000,000 characters, and stops
 * where elements nest more than 500 deep.
 */
export function htmlToText(html: string): string {
  const head = html.slice(0, MAX_HTML_CHARS);
  // No-break spaces (&nbsp;) become plain ones, runs of blanks one, and a line ends at its text.
  return convert(head.slice(0, depthCut(head, MAX_DEPTH)), OPTIONS)
    .split("\n")
    .map((line: string) => line.replace(/[ \t\u00A0]+/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
