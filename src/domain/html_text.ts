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

const OPTIONS = {
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
 * a <blockquote>, and a line for <hr>.
 */
export function htmlToText(html: string): string {
  // No-break spaces (&nbsp;) become plain ones, runs of blanks one, and a line ends at its text.
  return convert(html, OPTIONS)
    .split("\n")
    .map((line: string) => line.replace(/[ \t\u00A0]+/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
