/**
 * The arrows of the design, checked: the domain is pure, routes never reach a driver or the mail
 * edge, src/ never reaches routes/, no two files import each other in a circle, and only main.ts
 * reads the environment or registers jobs.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
/** Packages that only compute (no I/O, no clock, no randomness): the domain may import them. */
const PURE_PACKAGES = new Set([
  "email-forward-parser",
  "re2js",
  "html-to-text",
  "date-holidays",
  // Language detection by trigram scores over strings; no I/O.
  "franc-min",
  // For createHash only: SHA-256, synchronous, in src/domain/sha256.ts.
  "node:crypto",
]);

async function sources(dir: string): Promise<Array<{ path: string; text: string }>> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(new URL(rel, ROOT))) {
      const child = `${rel}${e.name}`;
      if (e.isDirectory) await walk(`${child}/`);
      else if (/\.tsx?$/.test(e.name)) {
        out.push({ path: child, text: await Deno.readTextFile(new URL(child, ROOT)) });
      }
    }
  };
  await walk(dir);
  return out;
}

function imports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:import|export)[^"'`;]*?from\s*["']([^"']+)["']/g)) {
    found.push(m[1]);
  }
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1]);
  return found;
}

function resolve(from: string, spec: string): string {
  if (!spec.startsWith(".")) return spec;
  return new URL(spec, new URL(from, ROOT)).pathname.slice(ROOT.pathname.length);
}

Deno.test("src/domain imports only src/domain and pure packages, and does no I/O", async () => {
  const files = await sources("src/domain/");
  assert.ok(files.length > 0);
  const problems: string[] = [];
  for (const f of files) {
    for (const spec of imports(f.text)) {
      const target = resolve(f.path, spec);
      if (spec.startsWith(".") ? !target.startsWith("src/domain/") : !PURE_PACKAGES.has(spec)) {
        problems.push(`${f.path} imports ${spec}`);
      }
    }
    const code = f.text.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
    for (
      const forbidden of [/\bDeno\./, /\bfetch\(/, /Date\.now\(/, /new Date\(\)/, /Math\.random/]
    ) {
      if (forbidden.test(code)) problems.push(`${f.path} uses ${forbidden.source}`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("routes/ never imports a database driver, the store adapters or the mail edge", async () => {
  const problems: string[] = [];
  for (const f of await sources("routes/")) {
    for (const spec of imports(f.text)) {
      const target = resolve(f.path, spec);
      if (
        ["postgres", "@electric-sql/pglite", "imapflow", "nodemailer", "mailparser"].includes(
          spec,
        ) ||
        target.startsWith("src/mail/") || /^src\/store\/(postgres|pglite)_db\.ts$/.test(target)
      ) {
        problems.push(`${f.path} imports ${spec}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("only main.ts reads the environment, registers cron jobs or serves HTTP", async () => {
  const problems: string[] = [];
  for (const dir of ["src/", "routes/"]) {
    for (const f of await sources(dir)) {
      const code = f.text.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
      for (const forbidden of [/Deno\.env/, /Deno\.cron/, /Deno\.serve/]) {
        if (forbidden.test(code)) problems.push(`${f.path} uses ${forbidden.source}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("src/ never imports routes/", async () => {
  const problems: string[] = [];
  for (const f of await sources("src/")) {
    for (const spec of imports(f.text)) {
      if (spec.startsWith(".") && resolve(f.path, spec).startsWith("routes/")) {
        problems.push(`${f.path} imports ${spec}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

/** The import graph of main.ts, src/ and routes/: each file and the project files it imports. */
async function importGraph(): Promise<Map<string, string[]>> {
  const files = [...await sources("src/"), ...await sources("routes/"), {
    path: "main.ts",
    text: await Deno.readTextFile(new URL("main.ts", ROOT)),
  }];
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const local = imports(f.text).filter((s) => s.startsWith(".")).map((s) => resolve(f.path, s));
    graph.set(f.path, local);
  }
  return graph;
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan. */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

Deno.test("the cycle finder sees a cycle of two files and a cycle of three", () => {
  const graph = new Map([
    ["a.ts", ["b.ts"]],
    ["b.ts", ["a.ts"]],
    ["c.ts", ["d.ts"]],
    ["d.ts", ["e.ts"]],
    ["e.ts", ["c.ts"]],
    ["f.ts", ["a.ts"]],
  ]);
  assert.deepEqual(cycles(graph), [["a.ts", "b.ts"], ["c.ts", "d.ts", "e.ts"]]);
});

Deno.test("no import cycles in main.ts, src/ and routes/", async () => {
  const graph = await importGraph();
  assert.ok(graph.size > 50, `only ${graph.size} files read`);
  assert.deepEqual(cycles(graph).map((c) => c.join(" ↔ ")), []);
});
