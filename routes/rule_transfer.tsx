/**
 * Rules in and out as JSON files: `/rules/export` downloads every rule (the list `rules import`
 * reads), `/rules/{id}/export` one rule (an object), and `/rules/import` takes a file or pasted
 * JSON of one rule or a list (`mergeRules`: same name replaces, new names are added). A plain
 * multipart form: a file input works without JavaScript.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { fill } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { idParam, respond } from "./render.tsx";
import { getRuleRow, listRuleRows } from "../src/store/rules_admin.ts";
import { mergeRules } from "../src/actions/rules.ts";
import { problemLines } from "../src/actions/result.ts";

/** Longest JSON an import reads, in characters (a full file of 500 rules fits). */
const MAX_IMPORT_CHARS = 5_000_000;

/** A file name made of the rule's name: letters, digits, dashes. */
function fileName(name: string): string {
  const safe = name.normalize("NFKD").replace(/[^\w-]+/g, "-").replace(/^-+|-+$/g, "");
  return `rule-${safe.slice(0, 60) || "unnamed"}.json`;
}

function download(c: Context<AppEnv>, value: unknown, name: string) {
  c.header("Content-Disposition", `attachment; filename="${name}"`);
  c.header("Cache-Control", "no-store");
  return c.body(JSON.stringify(value, null, 2) + "\n", 200, {
    "Content-Type": "application/json; charset=utf-8",
  });
}

function ImportPage(
  props: { t: Dict; csrf: string; text: string; errors: string[]; done?: string },
) {
  const { t } = props;
  return (
    <section id="rule-import">
      <h1>{t.importRules}</h1>
      <p class="sub">{t.importHelp}</p>
      {props.done && <p class="notice" role="status">{props.done}</p>}
      <Problems t={t} errors={props.errors} />
      <form method="post" action="/rules/import" enctype="multipart/form-data" class="stack">
        <CsrfField token={props.csrf} />
        <label>
          {t.importFile}
          <input type="file" name="file" accept="application/json,.json" />
        </label>
        <label>
          {t.importText}
          <textarea name="text" rows={12} spellcheck={false} class="code">{props.text}</textarea>
        </label>
        <p>
          <a href="/rules">{t.rules}</a> <button type="submit">{t.importButton}</button>
        </p>
      </form>
    </section>
  );
}

export function ruleTransferRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/rules/export", async (c) => {
    const rows = await listRuleRows(deps.db);
    return download(c, rows.map((r) => r.definition), "carteiro-rules.json");
  });

  app.get("/rules/:id{[0-9]+}/export", async (c) => {
    const row = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!row) return c.notFound();
    return download(c, row.definition, fileName(row.name));
  });

  const page = (c: Context<AppEnv>, text: string, errors: string[], status?: 422) => {
    const t = c.get("t");
    return respond(c, {
      title: t.importRules,
      nav: "/rules",
      fragment: <ImportPage t={t} csrf={c.get("csrfToken")} text={text} errors={errors} />,
      status,
    });
  };

  app.get("/rules/import", (c) => page(c, "", []));

  app.post("/rules/import", async (c) => {
    const t = c.get("t");
    const body = await c.req.parseBody();
    const pasted = typeof body.text === "string" ? body.text : "";
    const file = body.file instanceof File && body.file.size > 0 ? body.file : null;
    if (file && file.size > MAX_IMPORT_CHARS) {
      return page(c, pasted, [`file: larger than ${MAX_IMPORT_CHARS} bytes`], 422);
    }
    const text = file ? await file.text() : pasted;
    if (text.trim() === "") return page(c, pasted, [t.importNothing], 422);
    if (text.length > MAX_IMPORT_CHARS) {
      return page(c, "", [`text: longer than ${MAX_IMPORT_CHARS} characters`], 422);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return page(c, text, [`not valid JSON: ${(e as Error).message}`], 422);
    }
    const merged = await mergeRules(deps, json, actorName(c.get("actor")));
    if (!merged.ok) return page(c, text, problemLines(merged.problem), 422);
    return respond(c, {
      title: t.importRules,
      nav: "/rules",
      fragment: (
        <ImportPage
          t={t}
          csrf={c.get("csrfToken")}
          text=""
          errors={[]}
          done={fill(t.importDone, {
            created: merged.value.created.length,
            updated: merged.value.updated.length,
          })}
        />
      ),
    });
  });

  return app;
}
