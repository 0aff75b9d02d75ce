/**
 * A linear-time regular expression engine for rule conditions: a user's pattern can never hang
 * the collector, whatever the text (JavaScript's backtracking RegExp can: `.*a.*b` takes half a
 * second on a thousand characters). Pure, no I/O.
 */

/** Longest regex pattern, in characters. */
export const MAX_REGEX_LENGTH = 500;
/** Most NFA instructions a regex may compile to (repetitions expanded). */
export const MAX_REGEX_PROGRAM = 1_000;
/** Largest count in `{n,m}`. */
export const MAX_REGEX_REPEAT = 100;

// ---------------------------------------------------------------------------------------------
// A linear-time regex engine for rule conditions.
//
// Syntax (a subset of JavaScript's): literals, `.`, `[...]` / `[^...]` with ranges, `\d \w \s`
// and their negations, `\b \B`, `^ $` (per line), groups `( )` `(?: )` `(?<name> )`,
// alternation `|`, quantifiers `* + ? {n} {n,} {n,m}` (a lazy `?` suffix is accepted),
// escapes `\n \r \t \f \v \0 \xHH \uHHHH \u{H…}` and escaped punctuation. Matching is always
// case-insensitive and searches anywhere in the text. Backreferences and lookaround are
// refused: they are what makes matching non-regular. Cost: O(text × program) per match.
// ---------------------------------------------------------------------------------------------

type ClassItem =
  | { kind: "range"; lo: number; hi: number }
  | { kind: "builtin"; name: "d" | "w" | "s"; negated: boolean };

type RegexNode =
  | { t: "empty" }
  | { t: "char"; cp: number }
  | { t: "any" }
  | { t: "class"; items: ClassItem[]; negated: boolean }
  | { t: "assert"; kind: "bol" | "eol" | "wb" | "nwb" }
  | { t: "cat"; parts: RegexNode[] }
  | { t: "alt"; options: RegexNode[] }
  | { t: "rep"; node: RegexNode; min: number; max: number };

type Inst =
  | { op: "char"; cp: number }
  | { op: "any" }
  | {
    op: "class";
    items: ClassItem[];
    negated: boolean;
    /** The answer for each ASCII code point, case folding included, computed once. */
    ascii: readonly boolean[];
  }
  | { op: "split"; x: number; y: number }
  | { op: "jmp"; x: number }
  | { op: "assert"; kind: "bol" | "eol" | "wb" | "nwb" }
  | { op: "match" };

/** A compiled rule regex: the NFA program `regexSearch` runs. */
export interface RegexProgram {
  readonly source: string;
  readonly insts: readonly Inst[];
}

/** Compiles a rule regex, or says why it is refused. */
export function compileRegex(
  source: string,
): { ok: true; program: RegexProgram } | { ok: false; error: string } {
  if (source.length > MAX_REGEX_LENGTH) {
    return { ok: false, error: `is longer than ${MAX_REGEX_LENGTH} characters` };
  }
  try {
    const parser = new RegexParser(Array.from(source, (c) => c.codePointAt(0)!));
    const node = parser.parse();
    const insts: Inst[] = [];
    emit(node, insts);
    push(insts, { op: "match" });
    return { ok: true, program: { source, insts } };
  } catch (e) {
    if (e instanceof RegexError) return { ok: false, error: e.message };
    throw e;
  }
}

/** Whether the program matches anywhere in `text` (case-insensitive, `^`/`$` per line). */
export function regexSearch(program: RegexProgram, text: string): boolean {
  const input = Array.from(text, (c) => c.codePointAt(0)!);
  const insts = program.insts;
  const n = insts.length;
  // Numeric copies of the program so that the inner loops stay on small integers.
  const op = new Int8Array(n);
  const arg = new Int32Array(n);
  const alt = new Int32Array(n);
  insts.forEach((inst, i) => {
    op[i] = OPCODE[inst.op];
    if (inst.op === "char") arg[i] = inst.cp;
    else if (inst.op === "jmp") arg[i] = inst.x;
    else if (inst.op === "split") [arg[i], alt[i]] = [inst.x, inst.y];
    else if (inst.op === "assert") arg[i] = ASSERTION[inst.kind];
  });
  const mark = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n + 1);
  let current = new Int32Array(n);
  let next = new Int32Array(n);
  let currentSize = 0;
  let nextSize = 0;

  // Adds the thread at `pc` and everything reachable from it without consuming input, at
  // position `pos`, to `list`; returns true when Match is reachable. Each instruction enters a
  // list at most once per position: that bounds the work and ends empty loops like `(a*)*`.
  const add = (list: Int32Array, size: number, pc: number, pos: number): number => {
    let top = 0;
    stack[top++] = pc;
    while (top > 0) {
      const at = stack[--top];
      if (mark[at] === pos) continue;
      mark[at] = pos;
      switch (op[at]) {
        case OP_JMP:
          stack[top++] = arg[at];
          break;
        case OP_SPLIT:
          stack[top++] = alt[at];
          stack[top++] = arg[at];
          break;
        case OP_ASSERT:
          if (assertionHolds(arg[at], input, pos)) stack[top++] = at + 1;
          break;
        case OP_MATCH:
          return -1;
        default:
          list[size++] = at;
      }
    }
    return size;
  };

  for (let pos = 0; pos <= input.length; pos++) {
    // Unanchored search: a new thread starts at every position.
    currentSize = add(current, currentSize, 0, pos);
    if (currentSize < 0) return true;
    if (pos === input.length) break;
    const c = input[pos];
    const lc = foldCase(c);
    nextSize = 0;
    for (let i = 0; i < currentSize; i++) {
      const pc = current[i];
      let ok: boolean;
      switch (op[pc]) {
        case OP_CHAR:
          ok = arg[pc] === lc;
          break;
        case OP_ANY:
          ok = !isLineBreak(c);
          break;
        default: {
          const inst = insts[pc] as Extract<Inst, { op: "class" }>;
          ok = c < 128 ? inst.ascii[c] : classMatchesFolded(inst.items, inst.negated, c, lc);
        }
      }
      if (ok) {
        nextSize = add(next, nextSize, pc + 1, pos + 1);
        if (nextSize < 0) return true;
      }
    }
    [current, next] = [next, current];
    currentSize = nextSize;
  }
  return false;
}

const OP_CHAR = 0;
const OP_ANY = 1;
const OP_CLASS = 2;
const OP_SPLIT = 3;
const OP_JMP = 4;
const OP_ASSERT = 5;
const OP_MATCH = 6;
const OPCODE: Readonly<Record<Inst["op"], number>> = Object.freeze({
  char: OP_CHAR,
  any: OP_ANY,
  class: OP_CLASS,
  split: OP_SPLIT,
  jmp: OP_JMP,
  assert: OP_ASSERT,
  match: OP_MATCH,
});
const ASSERTION: Readonly<Record<"bol" | "eol" | "wb" | "nwb", number>> = Object.freeze({
  bol: 0,
  eol: 1,
  wb: 2,
  nwb: 3,
});

class RegexError extends Error {}

class RegexParser {
  #src: number[];
  #at = 0;

  constructor(src: number[]) {
    this.#src = src;
  }

  parse(): RegexNode {
    const node = this.#alternation(0);
    if (this.#at < this.#src.length) {
      throw new RegexError(`unmatched ")" at position ${this.#at}`);
    }
    return node;
  }

  #peek(): number | undefined {
    return this.#src[this.#at];
  }

  #alternation(depth: number): RegexNode {
    if (depth > 50) throw new RegexError("groups are nested too deeply");
    const options = [this.#concat(depth)];
    while (this.#peek() === 0x7c /* | */) {
      this.#at++;
      options.push(this.#concat(depth));
    }
    return options.length === 1 ? options[0] : { t: "alt", options };
  }

  #concat(depth: number): RegexNode {
    const parts: RegexNode[] = [];
    for (;;) {
      const c = this.#peek();
      if (c === undefined || c === 0x7c || c === 0x29 /* ) */) break;
      parts.push(this.#repeat(depth));
    }
    if (parts.length === 0) return { t: "empty" };
    return parts.length === 1 ? parts[0] : { t: "cat", parts };
  }

  #repeat(depth: number): RegexNode {
    const start = this.#at;
    let node = this.#atom(depth);
    let quantified = false;
    for (;;) {
      const at = this.#at;
      const bounds = this.#quantifier();
      if (!bounds) break;
      if (this.#peek() === 0x3f /* ? */) this.#at++; // lazy: the same set of matches
      if ((node.t === "assert" || node.t === "empty") && this.#src[start] !== 0x28 /* ( */) {
        throw new RegexError(`nothing to repeat at position ${start}`);
      }
      if (quantified) throw new RegexError(`a quantifier follows another at position ${at}`);
      node = { t: "rep", node, min: bounds[0], max: bounds[1] };
      quantified = true;
    }
    return node;
  }

  /** Reads `*`, `+`, `?` or a counted `{…}` at the cursor, or returns null when none is there. */
  #quantifier(): [number, number] | null {
    const c = this.#peek();
    if (c === 0x7b /* { */) {
      const counted = this.#counted();
      if (!counted) throw new RegexError(`"{" at position ${this.#at} must be escaped as \\{`);
      return counted;
    }
    const bounds: [number, number] | null = c === 0x2a /* * */
      ? [0, Infinity]
      : c === 0x2b /* + */
      ? [1, Infinity]
      : c === 0x3f /* ? */
      ? [0, 1]
      : null;
    if (bounds) this.#at++;
    return bounds;
  }

  /** Parses `{n}`, `{n,}` or `{n,m}` at the cursor; leaves the cursor after `}`. */
  #counted(): [number, number] | null {
    let i = this.#at + 1;
    const digits = () => {
      let s = "";
      while (i < this.#src.length && this.#src[i] >= 0x30 && this.#src[i] <= 0x39) {
        s += String.fromCharCode(this.#src[i++]);
      }
      return s;
    };
    const a = digits();
    if (a === "") return null;
    let b: string | null = a;
    if (this.#src[i] === 0x2c /* , */) {
      i++;
      b = digits();
    }
    if (this.#src[i] !== 0x7d /* } */) return null;
    const min = Number(a);
    const max = b === "" ? Infinity : Number(b);
    if (min > MAX_REGEX_REPEAT || (max !== Infinity && max > MAX_REGEX_REPEAT)) {
      throw new RegexError(`a repeat count above ${MAX_REGEX_REPEAT} at position ${this.#at}`);
    }
    if (max < min) throw new RegexError(`{${a},${b}} has max < min at position ${this.#at}`);
    this.#at = i + 1;
    return [min, max];
  }

  #atom(depth: number): RegexNode {
    const c = this.#src[this.#at++];
    switch (c) {
      case 0x2e /* . */:
        return { t: "any" };
      case 0x5e /* ^ */:
        return { t: "assert", kind: "bol" };
      case 0x24 /* $ */:
        return { t: "assert", kind: "eol" };
      case 0x5b /* [ */:
        return this.#class();
      case 0x28 /* ( */:
        return this.#group(depth);
      case 0x5c /* \ */: {
        const e = this.#escape(false);
        return e.t === "char" ? { t: "char", cp: foldCase(e.cp) } : e;
      }
      case 0x2a:
      case 0x2b:
      case 0x3f:
        throw new RegexError(`nothing to repeat at position ${this.#at - 1}`);
      case 0x7b:
        throw new RegexError(`"{" at position ${this.#at - 1} must be escaped as \\{`);
      default:
        return { t: "char", cp: foldCase(c) };
    }
  }

  #group(depth: number): RegexNode {
    if (this.#peek() === 0x3f /* ? */) {
      const next = this.#src[this.#at + 1];
      const after = this.#src[this.#at + 2];
      if (next === 0x3a /* : */) {
        this.#at += 2;
      } else if (next === 0x3c /* < */ && after !== 0x3d && after !== 0x21) {
        // (?<name> … ): a named group; names are not used for matching.
        const close = this.#src.indexOf(0x3e, this.#at);
        if (close < 0) throw new RegexError("unterminated group name");
        this.#at = close + 1;
      } else if (next === 0x3d || next === 0x21 || next === 0x3c) {
        throw new RegexError(
          `lookaround (?=, (?!, (?<=, (?<! at position ${this.#at - 1} is not supported`,
        );
      } else {
        throw new RegexError(`unknown group syntax "(?" at position ${this.#at - 1}`);
      }
    }
    const inner = this.#alternation(depth + 1);
    if (this.#src[this.#at] !== 0x29 /* ) */) {
      throw new RegexError(`missing ")" for the group opened before position ${this.#at}`);
    }
    this.#at++;
    return inner;
  }

  #class(): RegexNode {
    let negated = false;
    if (this.#peek() === 0x5e) {
      negated = true;
      this.#at++;
    }
    const items: ClassItem[] = [];
    for (;;) {
      const c = this.#src[this.#at];
      if (c === undefined) throw new RegexError('missing "]" to close a character class');
      if (c === 0x5d /* ] */) {
        this.#at++;
        break;
      }
      const lo = this.#classAtom();
      if (
        this.#src[this.#at] === 0x2d /* - */ && this.#src[this.#at + 1] !== 0x5d &&
        this.#src[this.#at + 1] !== undefined
      ) {
        this.#at++;
        const hi = this.#classAtom();
        if (typeof lo !== "number" || typeof hi !== "number") {
          throw new RegexError(`a range cannot use \\d, \\w or \\s (near position ${this.#at})`);
        }
        if (hi < lo) throw new RegexError(`range out of order near position ${this.#at}`);
        items.push({ kind: "range", lo, hi });
      } else if (typeof lo === "number") {
        items.push({ kind: "range", lo, hi: lo });
      } else {
        items.push(lo);
      }
    }
    return { t: "class", items, negated };
  }

  #classAtom(): number | ClassItem {
    const c = this.#src[this.#at++];
    if (c !== 0x5c) return c;
    const e = this.#escape(true);
    if (e.t === "char") return e.cp;
    if (e.t === "class" && e.items.length === 1 && e.items[0].kind === "builtin") {
      return e.items[0];
    }
    throw new RegexError(`\\B is not allowed in a class (near position ${this.#at})`);
  }

  /** After a backslash; characters come back unfolded. In a class, `\b` is a backspace. */
  #escape(inClass: boolean): RegexNode {
    const c = this.#src[this.#at++];
    if (c === undefined) throw new RegexError("the pattern ends with a lone backslash");
    const ch = String.fromCodePoint(c);
    const builtin = (name: "d" | "w" | "s", negated: boolean): RegexNode => ({
      t: "class",
      items: [{ kind: "builtin", name, negated }],
      negated: false,
    });
    switch (ch) {
      case "d":
      case "w":
      case "s":
        return builtin(ch, false);
      case "D":
      case "W":
      case "S":
        return builtin(ch.toLowerCase() as "d" | "w" | "s", true);
      case "b":
        return inClass ? { t: "char", cp: 0x08 } : { t: "assert", kind: "wb" };
      case "B":
        if (inClass) throw new RegexError("\\B is not allowed in a class");
        return { t: "assert", kind: "nwb" };
      case "n":
        return { t: "char", cp: 0x0a };
      case "r":
        return { t: "char", cp: 0x0d };
      case "t":
        return { t: "char", cp: 0x09 };
      case "f":
        return { t: "char", cp: 0x0c };
      case "v":
        return { t: "char", cp: 0x0b };
      case "0":
        return { t: "char", cp: 0 };
      case "x":
        return { t: "char", cp: this.#hex(2, 2) };
      case "u":
        if (this.#peek() === 0x7b /* { */) {
          this.#at++;
          const cp = this.#hex(1, 6);
          if (this.#src[this.#at++] !== 0x7d || cp > 0x10ffff) {
            throw new RegexError("bad \\u{…} escape");
          }
          return { t: "char", cp };
        }
        return { t: "char", cp: this.#hex(4, 4) };
    }
    if (c >= 0x31 && c <= 0x39) {
      throw new RegexError(`backreferences (\\${ch}) are not supported`);
    }
    if (ch === "k") throw new RegexError("named backreferences (\\k) are not supported");
    if (/[A-Za-z0-9]/.test(ch)) throw new RegexError(`unknown escape \\${ch}`);
    return { t: "char", cp: c };
  }

  #hex(min: number, max: number): number {
    let s = "";
    while (s.length < max && /[0-9a-fA-F]/.test(String.fromCodePoint(this.#peek() ?? 0x20))) {
      s += String.fromCodePoint(this.#src[this.#at++]);
    }
    if (s.length < min) throw new RegexError("bad hexadecimal escape");
    return parseInt(s, 16);
  }
}

function push(insts: Inst[], inst: Inst): number {
  if (insts.length >= MAX_REGEX_PROGRAM) {
    throw new RegexError(
      `is too large once its repetitions are expanded (limit ${MAX_REGEX_PROGRAM} steps)`,
    );
  }
  insts.push(inst);
  return insts.length - 1;
}

/** Thompson construction: appends the instructions for `node` to `insts`. */
function emit(node: RegexNode, insts: Inst[]): void {
  switch (node.t) {
    case "empty":
      return;
    case "char":
      push(insts, { op: "char", cp: node.cp });
      return;
    case "any":
      push(insts, { op: "any" });
      return;
    case "class":
      push(insts, {
        op: "class",
        items: node.items,
        negated: node.negated,
        ascii: Array.from(
          { length: 128 },
          (_, c) => classMatchesFolded(node.items, node.negated, c, foldCase(c)),
        ),
      });
      return;
    case "assert":
      push(insts, { op: "assert", kind: node.kind });
      return;
    case "cat":
      for (const p of node.parts) emit(p, insts);
      return;
    case "alt": {
      // split L1, next; L1: a; jmp end; next: split L2, … ; last option falls through.
      const jumps: number[] = [];
      node.options.forEach((option, i) => {
        if (i < node.options.length - 1) {
          const split = push(insts, { op: "split", x: 0, y: 0 });
          emit(option, insts);
          jumps.push(push(insts, { op: "jmp", x: 0 }));
          insts[split] = { op: "split", x: split + 1, y: insts.length };
        } else {
          emit(option, insts);
        }
      });
      for (const j of jumps) insts[j] = { op: "jmp", x: insts.length };
      return;
    }
    case "rep": {
      for (let i = 0; i < node.min; i++) emit(node.node, insts);
      if (node.max === Infinity) {
        // L: split body, end; body; jmp L
        const split = push(insts, { op: "split", x: 0, y: 0 });
        emit(node.node, insts);
        push(insts, { op: "jmp", x: split });
        insts[split] = { op: "split", x: split + 1, y: insts.length };
      } else {
        for (let i = node.min; i < node.max; i++) {
          const split = push(insts, { op: "split", x: 0, y: 0 });
          emit(node.node, insts);
          insts[split] = { op: "split", x: split + 1, y: insts.length };
        }
      }
      return;
    }
  }
}

/** Simple case folding to lower case, one code point to one code point. */
function foldCase(cp: number): number {
  if (cp >= 0x41 && cp <= 0x5a) return cp + 32;
  if (cp < 0x80) return cp;
  const lower = String.fromCodePoint(cp).toLowerCase();
  const folded = lower.codePointAt(0)!;
  return lower.length === String.fromCodePoint(folded).length ? folded : cp;
}

function upperCase(cp: number): number {
  if (cp >= 0x61 && cp <= 0x7a) return cp - 32;
  if (cp < 0x80) return cp;
  const upper = String.fromCodePoint(cp).toUpperCase();
  const u = upper.codePointAt(0)!;
  return upper.length === String.fromCodePoint(u).length ? u : cp;
}

function classMatchesFolded(
  items: readonly ClassItem[],
  negated: boolean,
  c: number,
  lc: number,
): boolean {
  const hit = inClass(items, c) || inClass(items, lc) || inClass(items, upperCase(c));
  return hit !== negated;
}

function inClass(items: readonly ClassItem[], c: number): boolean {
  for (const item of items) {
    if (item.kind === "range") {
      if (c >= item.lo && c <= item.hi) return true;
    } else if (builtinMatches(item.name, c) !== item.negated) {
      return true;
    }
  }
  return false;
}

function builtinMatches(name: "d" | "w" | "s", c: number): boolean {
  if (name === "d") return c >= 0x30 && c <= 0x39;
  if (name === "w") return isWordChar(c);
  // JavaScript's \s: ECMAScript WhiteSpace and LineTerminator.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
    c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function isWordChar(c: number | undefined): boolean {
  return c !== undefined &&
    ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x5f);
}

function isLineBreak(c: number | undefined): boolean {
  return c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
}

function assertionHolds(kind: number, input: readonly number[], pos: number): boolean {
  switch (kind) {
    case 0: // ^ (per line)
      return pos === 0 || isLineBreak(input[pos - 1]);
    case 1: // $ (per line)
      return pos === input.length || isLineBreak(input[pos]);
    case 2: // \b
      return isWordChar(input[pos - 1]) !== isWordChar(input[pos]);
    default: // \B
      return isWordChar(input[pos - 1]) === isWordChar(input[pos]);
  }
}
