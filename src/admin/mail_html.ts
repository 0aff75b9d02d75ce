/**
 * HTML mail, made safe to look at. The sanitizer is `sanitize-html`, an allow-list library
 * (RELIABILITY I-01): only the tags, attributes, URL schemes and CSS properties listed here
 * survive; scripts, event handlers, forms, frames, SVG/MathML, `<style>`/`<link>`/`<meta>`/`<base>`
 * and htmx attributes do not. Remote images are replaced by a placeholder during the same pass
 * (nothing edits the output afterwards) unless the person asked to load them. The result is still
 * only ever shown in a sandboxed iframe under its own CSP (routes/message_html.ts): two layers.
 */
// @deno-types="npm:@types/sanitize-html@2.16.1"
import sanitizeHtml from "sanitize-html";

const ALLOWED_TAGS = [
  "a",
  "abbr",
  "address",
  "b",
  "big",
  "blockquote",
  "br",
  "caption",
  "center",
  "cite",
  "code",
  "col",
  "colgroup",
  "dd",
  "del",
  "dfn",
  "div",
  "dl",
  "dt",
  "em",
  "font",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "hr",
  "i",
  "img",
  "ins",
  "kbd",
  "li",
  "mark",
  "ol",
  "p",
  "pre",
  "q",
  "s",
  "small",
  "span",
  "strike",
  "strong",
  "sub",
  "sup",
  "table",
  "tbody",
  "td",
  "tfoot",
  "th",
  "thead",
  "tr",
  "tt",
  "u",
  "ul",
  "wbr",
];

const LAYOUT_ATTRIBUTES = ["align", "valign", "width", "height", "bgcolor", "border", "dir"];

const ALLOWED_ATTRIBUTES: sanitizeHtml.IOptions["allowedAttributes"] = {
  "*": ["style", "title", "lang", "dir", "align", "class"],
  a: ["href", "name", "target", "rel"],
  img: ["src", "alt", "width", "height", "border"],
  font: ["color", "face", "size"],
  table: [...LAYOUT_ATTRIBUTES, "cellpadding", "cellspacing", "summary"],
  td: [...LAYOUT_ATTRIBUTES, "colspan", "rowspan", "nowrap"],
  th: [...LAYOUT_ATTRIBUTES, "colspan", "rowspan", "nowrap", "scope"],
  tr: LAYOUT_ATTRIBUTES,
  col: [...LAYOUT_ATTRIBUTES, "span"],
  colgroup: [...LAYOUT_ATTRIBUTES, "span"],
  ol: ["start", "type", "reversed"],
  ul: ["type"],
  li: ["value"],
  blockquote: ["cite"],
  q: ["cite"],
};

// CSS values: no functions that fetch or evaluate (url(), image-set(), expression(), …), no
// escapes that could spell them, no `@` rules. Colours with rgb()/hsl() stay readable.
const SAFE_CSS_VALUE =
  /^(?![\s\S]*(?:url|image|expression|element|attr|var|env|paint|cross-fade|src)\s*\()(?![\s\S]*[\\@<>{};])[\w\s#%.,'"()\/+\-!]*$/i;
const CSS_PROPERTIES = [
  "color",
  "background-color",
  "font",
  "font-family",
  "font-size",
  "font-style",
  "font-weight",
  "line-height",
  "letter-spacing",
  "text-align",
  "text-decoration",
  "text-transform",
  "text-indent",
  "vertical-align",
  "white-space",
  "word-break",
  "width",
  "max-width",
  "min-width",
  "height",
  "max-height",
  "min-height",
  "margin",
  "margin-top",
  "margin-right",
  "margin-bottom",
  "margin-left",
  "padding",
  "padding-top",
  "padding-right",
  "padding-bottom",
  "padding-left",
  "border",
  "border-top",
  "border-right",
  "border-bottom",
  "border-left",
  "border-color",
  "border-style",
  "border-width",
  "border-radius",
  "border-collapse",
  "border-spacing",
  "display",
  "list-style-type",
  "table-layout",
];
const ALLOWED_STYLES = {
  "*": Object.fromEntries(CSS_PROPERTIES.map((p) => [p, [SAFE_CSS_VALUE]])),
};

/** The sanitized body and how many remote images were held back. */
export interface SafeMailHtml {
  html: string;
  blockedImages: number;
}

/**
 * Sanitizes a message's HTML. With `remoteImages` false, `<img>` with an http(s) or
 * protocol-relative source becomes a visible placeholder; with it true, such images are kept
 * (the viewer's CSP then allows loading them).
 */
export function sanitizeMailHtml(html: string, options: { remoteImages: boolean }): SafeMailHtml {
  let blockedImages = 0;
  const out = sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: ALLOWED_ATTRIBUTES,
    allowedStyles: ALLOWED_STYLES,
    allowedSchemes: ["http", "https", "mailto"],
    allowedSchemesByTag: {
      img: options.remoteImages ? ["data", "cid", "http", "https"] : ["data", "cid"],
    },
    allowedSchemesAppliedToAttributes: ["href", "src", "cite"],
    allowProtocolRelative: options.remoteImages,
    disallowedTagsMode: "discard",
    // Their content is never text to show.
    nonTextTags: [
      "script",
      "style",
      "textarea",
      "option",
      "noscript",
      "title",
      "head",
      "svg",
      "math",
    ],
    transformTags: {
      // Links open in a new tab (the frame allows popups that escape its sandbox, nothing else);
      // relative links would point into this application and are dropped.
      a: (tagName, attribs) => {
        const { href, ...rest } = attribs;
        const keep = href !== undefined && /^\s*(?:https?:|mailto:|#)/i.test(href);
        return {
          tagName,
          attribs: {
            ...rest,
            ...(keep ? { href } : {}),
            target: "_blank",
            rel: "noopener noreferrer",
          },
        };
      },
      img: (tagName, attribs) => {
        const { src: rawSrc, ...rest } = attribs;
        const src = (rawSrc ?? "").trim();
        const remote = /^(?:https?:)?\/\//i.test(src);
        if (!remote && !/^(?:data|cid):/i.test(src)) return { tagName, attribs: rest };
        if (!options.remoteImages && remote) {
          blockedImages++;
          return {
            tagName: "span",
            attribs: { title: "remote image blocked", class: "carteiro-blocked-image" },
            text: `[${(attribs.alt ?? "").slice(0, 100) || "image"}]`,
          };
        }
        return { tagName, attribs };
      },
    },
  });
  return { html: out, blockedImages };
}
