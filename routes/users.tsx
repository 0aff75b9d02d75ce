/**
 * `/users` (admins only): who can log in and with which role — add a user, change a role,
 * disable or enable, reset a password, turn off a lost second factor, remove
 * (src/actions/users.ts, src/actions/second_factor.ts). At least one active admin
 * always remains.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { CsrfField } from "./layout.tsx";
import { idParam, When } from "./render.tsx";
import { fmtDate } from "./viewer_time.ts";
import { roleWord } from "./role_refusal.tsx";
import { type Column, ListView, respondList } from "./list_view.tsx";
import { wantsFragment } from "./htmx.ts";
import { listUsers, type UserRow } from "../src/store/users.ts";
import { addUser, changeUser, removeUser, setPassword } from "../src/actions/users.ts";
import { disableTotp } from "../src/actions/second_factor.ts";
import { type Problem, problemLines } from "../src/actions/result.ts";
import { type Role, ROLES } from "../src/domain/roles.ts";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../src/admin/user_input.ts";

const PASSWORD_INPUT = { minlength: MIN_PASSWORD_LENGTH, maxlength: MAX_PASSWORD_LENGTH };

function RoleSelect(props: { t: Dict; value: Role }) {
  return (
    <select name="role">
      {ROLES.map((r) => (
        <option value={r} selected={r === props.value}>{roleWord(props.t, r)}</option>
      ))}
    </select>
  );
}

function userColumns(t: Dict, csrf: string): Column<UserRow>[] {
  return [
    { label: t.email, cell: (u) => u.email },
    {
      label: t.role,
      cell: (u) => (
        <form method="post" action={`/users/${u.id}`} class="inline">
          <CsrfField token={csrf} />
          <RoleSelect t={t} value={u.role} /> <button type="submit">{t.save}</button>
        </form>
      ),
    },
    {
      label: t.status,
      cell: (u) => (u.disabledAt ? `${t.userDisabled} ${fmtDate(u.disabledAt, t)}` : t.enabled),
    },
    {
      label: t.secondFactor,
      cell: (u) =>
        u.totpEnabled
          ? (
            <form method="post" action={`/users/${u.id}/totp-off`} class="inline">
              <CsrfField token={csrf} />
              {t.yes} <button type="submit">{t.totpReset}</button>
            </form>
          )
          : t.no,
    },
    { label: t.created, cell: (u) => <When at={u.createdAt} t={t} /> },
    {
      label: "",
      cell: (u) => (
        <>
          <form method="post" action={`/users/${u.id}`} class="inline">
            <CsrfField token={csrf} />
            <input type="hidden" name="disabled" value={u.disabledAt ? "false" : "true"} />
            <button type="submit">{u.disabledAt ? t.enableUser : t.disableUser}</button>
          </form>{" "}
          <form method="post" action={`/users/${u.id}/password`} class="inline">
            <CsrfField token={csrf} />
            <label>
              {t.newPassword}{" "}
              <input
                type="password"
                name="password"
                autocomplete="new-password"
                {...PASSWORD_INPUT}
              />
            </label>{" "}
            <button type="submit">{t.resetPassword}</button>
          </form>{" "}
          <form method="post" action={`/users/${u.id}/remove`} class="inline">
            <CsrfField token={csrf} />
            <button type="submit">{t.removeUser}</button>
          </form>
        </>
      ),
    },
  ];
}

/** What the add form holds when it is shown again (never the password). */
interface AddForm {
  email: string;
  role: string;
}

function UsersSection(
  props: {
    t: Dict;
    rows: UserRow[];
    csrf: string;
    form?: AddForm;
    errors?: string[];
    notice?: string;
  },
) {
  const { t } = props;
  return (
    <ListView
      t={t}
      id="users"
      errors={props.errors}
      top={
        <>
          <p>{t.usersIntro}</p>
          {props.notice && <p class="ok" role="status">{props.notice}</p>}
          <form
            method="post"
            action="/users"
            class="inline-form"
            hx-post="/users"
            hx-target="#users"
            hx-swap="outerHTML"
          >
            <CsrfField token={props.csrf} />
            <label>
              {t.email} <input type="email" name="email" value={props.form?.email ?? ""} required />
            </label>
            <label>
              {t.role} <RoleSelect t={t} value={(props.form?.role as Role) ?? "viewer"} />
            </label>
            <label>
              {t.password}{" "}
              <input
                type="password"
                name="password"
                autocomplete="new-password"
                required
                {...PASSWORD_INPUT}
              />
            </label>
            <button type="submit">{t.addUser}</button>
          </form>
        </>
      }
      rows={props.rows}
      empty={t.noUsers}
      table={{ class: "list", inert: true, columns: userColumns(t, props.csrf) }}
    />
  );
}

/** The users page and its forms. */
export function userRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (
    c: Context<AppEnv>,
    extra: { form?: AddForm; errors?: string[]; notice?: string },
    status?: 404 | 409 | 422,
  ) => {
    const t = c.get("t");
    const rows = await listUsers(deps.db);
    const list = <UsersSection t={t} rows={rows} csrf={c.get("csrfToken")} {...extra} />;
    return await respondList(c, { title: t.users, nav: "/users", list, status });
  };

  /** After a change: the list again (htmx) or a redirect; a problem shows above the list. */
  const after = async (
    c: Context<AppEnv>,
    result: { ok: true } | { ok: false; problem: Problem },
  ) => {
    if (!result.ok) {
      const status = result.problem.code === "not_found"
        ? 404
        : result.problem.code === "conflict"
        ? 409
        : 422;
      return await page(c, { errors: problemLines(result.problem) }, status);
    }
    return wantsFragment(c) ? await page(c, {}) : c.redirect("/users", 303);
  };

  const text = (v: unknown) => (typeof v === "string" ? v : "");

  app.get("/users", (c) => page(c, {}));

  app.post("/users", async (c) => {
    const body = await c.req.parseBody();
    const form = { email: text(body.email).trim(), role: text(body.role) || "viewer" };
    const added = await addUser(
      deps,
      { ...form, password: text(body.password) },
      actorName(c.get("actor")),
    );
    if (!added.ok) return await page(c, { form, errors: problemLines(added.problem) }, 422);
    return wantsFragment(c) ? await page(c, {}) : c.redirect("/users", 303);
  });

  app.post("/users/:id{[0-9]+}", async (c) => {
    const id = idParam(c.req.param("id")) ?? 0;
    const body = await c.req.parseBody();
    const change = {
      ...(typeof body.role === "string" ? { role: body.role } : {}),
      ...(typeof body.disabled === "string" ? { disabled: body.disabled === "true" } : {}),
    };
    return await after(c, await changeUser(deps, id, change, actorName(c.get("actor"))));
  });

  app.post("/users/:id{[0-9]+}/password", async (c) => {
    const id = idParam(c.req.param("id")) ?? 0;
    const body = await c.req.parseBody();
    return await after(
      c,
      await setPassword(
        deps,
        { key: id, password: text(body.password) },
        actorName(c.get("actor")),
      ),
    );
  });

  // For a lost phone: the user logs in with the password alone and may set up a new one.
  app.post("/users/:id{[0-9]+}/totp-off", async (c) => {
    const id = idParam(c.req.param("id")) ?? 0;
    return await after(c, await disableTotp(deps, { key: id }, actorName(c.get("actor"))));
  });

  app.post("/users/:id{[0-9]+}/remove", async (c) => {
    const id = idParam(c.req.param("id")) ?? 0;
    return await after(c, await removeUser(deps, id, actorName(c.get("actor"))));
  });

  return app;
}
