/**
 * `/accounts/{id}/settings`: an account's reply settings — time zone, the receiving server's
 * authserv-ids, the SPF/DMARC and spam checks, trusted forwarders, rate limits — for accounts
 * from the environment too (they are not connection settings). Saved by
 * src/actions/account_settings.ts, audited as `account_settings_changed`.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill } from "./i18n.ts";
import { EditorFrame } from "./forms.tsx";
import { idParam, respond } from "./render.tsx";
import { fullPageRedirect, wantsFragment } from "./htmx.ts";
import { getAccountView } from "../src/store/accounts_admin.ts";
import { readAccountReplySettings } from "../src/store/account_settings.ts";
import { saveAccountSettings } from "../src/actions/account_settings.ts";
import { problemLines } from "../src/actions/result.ts";
import { DEFAULT_RATE_LIMIT_POLICY, exportRateLimitOverrides } from "../src/domain/rate_limit.ts";
import {
  type AccountSettingsForm,
  readSettingsForm,
  settingsFormOf,
} from "./account_settings_form.ts";

const DEFAULT_LIMITS_JSON = JSON.stringify(exportRateLimitOverrides(DEFAULT_RATE_LIMIT_POLICY));

function SettingsEditor(
  props: {
    t: Dict;
    id: number;
    name: string;
    domain: string;
    serverZone: string;
    form: AccountSettingsForm;
    csrf: string;
    errors: string[];
  },
) {
  const { t, form } = props;
  const hint = (text: string) => <span class="sub">{text}</span>;
  return (
    <EditorFrame
      t={t}
      id="settings-editor"
      title={`${t.replySettings} · ${props.name}`}
      errors={props.errors}
      action={`/accounts/${props.id}/settings`}
      csrf={props.csrf}
    >
      <p>{t.replySettingsIntro}</p>
      <label>
        {t.timeZone} {hint(fill(t.timeZoneHint, { zone: props.serverZone }))}
        <input type="text" name="time_zone" value={form.time_zone} />
      </label>
      <fieldset>
        <legend>Authentication-Results</legend>
        <label>
          {t.authservIds} {hint(t.authservIdsHint)}
          <input type="text" name="authserv_ids" value={form.authserv_ids} />
        </label>
        <label class="check">
          <input type="checkbox" name="check_auth" value="1" checked={form.check_auth} />{" "}
          {t.checkAuth}
        </label>
        <label class="check">
          <input type="checkbox" name="check_spam" value="1" checked={form.check_spam} />{" "}
          {t.checkSpam}
        </label>
      </fieldset>
      <label>
        {t.trustedForwarders} {hint(fill(t.trustedForwardersHint, { domain: props.domain }))}
        <input type="text" name="trusted_forwarders" value={form.trusted_forwarders} />
      </label>
      <label>
        {t.rateLimits} {hint(fill(t.rateLimitsHint, { defaults: DEFAULT_LIMITS_JSON }))}
        <textarea name="limits" rows={6} spellcheck={false}>{form.limits}</textarea>
      </label>
      <fieldset>
        <legend>{t.retention}</legend>
        <label>
          {t.keepRawDays} {hint(t.keepDaysHint)}
          <input type="text" inputmode="numeric" name="keep_raw_days" value={form.keep_raw_days} />
        </label>
        <label>
          {t.keepMessagesDays} {hint(t.keepDaysHint)}
          <input
            type="text"
            inputmode="numeric"
            name="keep_messages_days"
            value={form.keep_messages_days}
          />
        </label>
      </fieldset>
      <p>
        <a href="/accounts">{t.accounts}</a> <button type="submit">{t.save}</button>
      </p>
    </EditorFrame>
  );
}

/** The reply-settings page of each account and its save. */
export function accountSettingsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const serverZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  const editor = async (
    c: Context<AppEnv>,
    id: number,
    form: AccountSettingsForm | null,
    errors: string[],
    status?: 422,
  ) => {
    const account = await getAccountView(deps.db, id);
    const stored = await readAccountReplySettings(deps.db, id);
    if (!account || !stored) return c.notFound();
    const t = c.get("t");
    return respond(c, {
      title: t.replySettings,
      nav: "/accounts",
      fragment: (
        <SettingsEditor
          t={t}
          id={id}
          name={account.name}
          domain={account.address.slice(account.address.lastIndexOf("@") + 1)}
          serverZone={serverZone}
          form={form ?? settingsFormOf(stored)}
          csrf={c.get("csrfToken")}
          errors={errors}
        />
      ),
      status,
    });
  };

  app.get("/accounts/:id{[0-9]+}/settings", async (c) => {
    const id = idParam(c.req.param("id"));
    return id ? await editor(c, id, null, []) : c.notFound();
  });

  app.post("/accounts/:id{[0-9]+}/settings", async (c) => {
    const id = idParam(c.req.param("id"));
    if (!id) return c.notFound();
    const read = readSettingsForm(await c.req.parseBody());
    if (!read.json) return await editor(c, id, read.form, read.errors, 422);
    const saved = await saveAccountSettings(deps, id, read.json, actorName(c.get("actor")));
    if (!saved.ok) {
      if (saved.problem.code === "not_found") return c.notFound();
      return await editor(c, id, read.form, problemLines(saved.problem), 422);
    }
    if (wantsFragment(c)) {
      fullPageRedirect(c, "/accounts");
      return c.html("", 200);
    }
    return c.redirect("/accounts", 303);
  });

  return app;
}
