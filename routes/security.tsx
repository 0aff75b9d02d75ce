/**
 * `/security`: the person logged in turns their second factor (TOTP) on — a secret shown as text,
 * as an `otpauth://` link and as a QR code, confirmed with one code before it is asked at login —
 * sees their ten recovery codes once, and turns it off with their password
 * (src/actions/second_factor.ts). Without SECRET_KEY the page says it must be set.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { raw } from "hono/html";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { respond } from "./render.tsx";
import { fmtDate } from "./viewer_time.ts";
import {
  confirmTotp,
  disableTotp,
  pendingTotp,
  secondFactorStatus,
  startTotp,
  type TotpSetup,
} from "../src/actions/second_factor.ts";
import { problemLines } from "../src/actions/result.ts";
import { createSecretBox } from "../src/auth/secret_box.ts";
import { qrSvg } from "../src/auth/totp.ts";

/** What the page shows besides the status. */
interface View {
  errors?: string[];
  notice?: string;
  setup?: TotpSetup & { svg: string };
  codes?: string[];
}

function SecuritySection(
  props: {
    t: Dict;
    csrf: string;
    hasKey: boolean;
    status: { enabledAt: Date | null; unusedCodes: number };
  } & View,
) {
  const { t, status } = props;
  return (
    <section id="security">
      <h1>{t.security}</h1>
      <p>{t.totpIntro}</p>
      {props.notice && <p class="ok" role="status">{props.notice}</p>}
      <Problems t={t} errors={props.errors ?? []} />
      {props.codes && (
        <div class="recovery-codes">
          <p>{t.totpRecoveryCodes}</p>
          <ul>
            {props.codes.map((code) => (
              <li>
                <code>{code}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
      {status.enabledAt
        ? (
          <>
            <p>
              {fill(t.totpOn, { since: fmtDate(status.enabledAt, t), codes: status.unusedCodes })}
            </p>
            <form method="post" action="/security/totp/off" class="stacked">
              <CsrfField token={props.csrf} />
              <p>{t.totpTurnOffHelp}</p>
              <label>
                {t.currentPassword}{" "}
                <input type="password" name="current" autocomplete="current-password" required />
              </label>
              <button type="submit">{t.totpTurnOff}</button>
            </form>
          </>
        )
        : !props.hasKey
        ? <p class="problems" role="alert">{t.totpNeedsKey}</p>
        : props.setup
        ? (
          <>
            <p>{t.totpScan}</p>
            <div class="qr">{raw(props.setup.svg)}</div>
            <p>
              {t.totpSecret}: <code id="totp-secret">{props.setup.secret}</code>
            </p>
            <p>
              {t.totpUri}: <code id="totp-uri">{props.setup.uri}</code>
            </p>
            <form method="post" action="/security/totp/confirm" class="stacked">
              <CsrfField token={props.csrf} />
              <label>
                {t.totpCode}{" "}
                <input
                  type="text"
                  name="code"
                  inputmode="numeric"
                  autocomplete="one-time-code"
                  pattern="[0-9 ]{6,7}"
                  maxlength={7}
                  required
                />
              </label>
              <button type="submit">{t.totpConfirm}</button>
            </form>
          </>
        )
        : (
          <>
            <p>{t.totpOff}</p>
            <form method="post" action="/security/totp" class="stacked">
              <CsrfField token={props.csrf} />
              <button type="submit">{t.totpStart}</button>
            </form>
          </>
        )}
    </section>
  );
}

/** The second-factor page of the person logged in. */
export function securityRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const box = createSecretBox(deps.secretKey);
  const sf = { db: deps.db, now: deps.now, box };
  const hasKey = (deps.secretKey ?? "").length >= 16;

  const show = async (c: Context<AppEnv>, view: View, status?: 409 | 422) => {
    const t = c.get("t");
    const actor = c.get("actor");
    if (actor.kind !== "session") return c.notFound();
    const fragment = (
      <SecuritySection
        t={t}
        csrf={c.get("csrfToken")}
        hasKey={hasKey}
        status={await secondFactorStatus(deps, actor.userId)}
        {...view}
      />
    );
    return respond(c, { title: t.security, fragment, status });
  };
  const withQr = async (setup: TotpSetup) => ({ ...setup, svg: await qrSvg(setup.uri) });
  const text = (v: unknown) => (typeof v === "string" ? v : "");

  app.get("/security", (c) => show(c, {}));

  app.post("/security/totp", async (c) => {
    const actor = c.get("actor");
    if (actor.kind !== "session") return c.notFound();
    const started = await startTotp(sf, actor.userId);
    if (!started.ok) {
      return await show(
        c,
        { errors: problemLines(started.problem) },
        started.problem.code === "conflict" ? 409 : 422,
      );
    }
    return await show(c, { setup: await withQr(started.value) });
  });

  app.post("/security/totp/confirm", async (c) => {
    const actor = c.get("actor");
    if (actor.kind !== "session") return c.notFound();
    const body = await c.req.parseBody();
    const confirmed = await confirmTotp(sf, actor.userId, text(body.code), actorName(actor));
    if (!confirmed.ok) {
      const pending = hasKey ? await pendingTotp(sf, actor.userId) : null;
      return await show(c, {
        errors: problemLines(confirmed.problem),
        setup: pending ? await withQr(pending) : undefined,
      }, confirmed.problem.code === "conflict" ? 409 : 422);
    }
    return await show(c, { notice: c.get("t").totpEnabled, codes: confirmed.value });
  });

  app.post("/security/totp/off", async (c) => {
    const actor = c.get("actor");
    if (actor.kind !== "session") return c.notFound();
    const body = await c.req.parseBody();
    const off = await disableTotp(
      deps,
      { key: actor.userId, current: text(body.current) },
      actorName(actor),
    );
    if (!off.ok) {
      return await show(
        c,
        { errors: problemLines(off.problem) },
        off.problem.code === "conflict" ? 409 : 422,
      );
    }
    return await show(c, { notice: c.get("t").totpDisabled });
  });

  return app;
}
