/**
 * The frames of the admin's forms: the editor of one thing (accounts, rules), which htmx swaps
 * whole, and the sign-in form of `/login` and `/setup`, which works without JavaScript.
 */
import type { Child } from "hono/jsx";
import type { Dict } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";

/**
 * An editor: `<div id>` with its heading, the problems of the last attempt, and a POST form
 * whose answer (the editor again, 422 with what was typed) replaces the whole `<div>`.
 * `after` follows the form (buttons with forms of their own, preview sections).
 */
export function EditorFrame(
  props: {
    t: Dict;
    id: string;
    title: string;
    errors: string[];
    action: string;
    csrf: string;
    children?: Child;
    after?: Child;
  },
) {
  return (
    <div id={props.id}>
      <h1>{props.title}</h1>
      <Problems t={props.t} errors={props.errors} />
      <form
        method="post"
        action={props.action}
        class="stack"
        hx-post={props.action}
        hx-target={`#${props.id}`}
        hx-swap="outerHTML"
      >
        <CsrfField token={props.csrf} />
        {props.children}
      </form>
      {props.after}
    </div>
  );
}

/** A password field of a sign-in form. */
export interface PasswordField {
  name: string;
  label: string;
  autocomplete: "current-password" | "new-password";
  minlength?: number;
  maxlength: number;
}

/**
 * A sign-in form: an e-mail address and the passwords, posted with the pre-login CSRF token and
 * one hidden field (`next` for login, the setup token for setup).
 */
export function SignInForm(
  props: {
    t: Dict;
    title: string;
    /** Between the heading and the form: an introduction, the problems. */
    above?: Child;
    action: string;
    csrf: string;
    hidden: { name: string; value: string };
    email: string;
    passwords: PasswordField[];
    submit: string;
  },
) {
  const { t } = props;
  return (
    <section class="login">
      <h1>{props.title}</h1>
      {props.above}
      <form method="post" action={props.action} class="stack">
        <CsrfField token={props.csrf} />
        <input type="hidden" name={props.hidden.name} value={props.hidden.value} />
        <label>
          {t.email}
          <input
            type="email"
            name="email"
            autocomplete="username"
            required
            value={props.email}
            maxlength={320}
          />
        </label>
        {props.passwords.map((p) => (
          <label>
            {p.label}
            <input
              type="password"
              name={p.name}
              autocomplete={p.autocomplete}
              required
              {...(p.minlength ? { minlength: p.minlength } : {})}
              maxlength={p.maxlength}
            />
          </label>
        ))}
        <button type="submit">{props.submit}</button>
      </form>
    </section>
  );
}
