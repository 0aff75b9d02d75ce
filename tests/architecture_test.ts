/**
 * The arrows of the design, checked: the domain is pure, routes never reach a driver or the mail
 * edge, and only main.ts reads the environment or registers jobs.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
/** Packages that only compute (no I/O, no clock, no randomness): the domain may import them. */
const PURE_PACKAGES = new Set([
  "email-forward-parser",
  "re2js",
  "html-to-text",
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
