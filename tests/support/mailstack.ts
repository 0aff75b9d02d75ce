/**
 * The loopback mail stack of scripts/mailstack.sh, for tests: a fresh mailbox user per test,
 * byte-exact delivery, and doveadm for what a server does on its own (UIDVALIDITY changes).
 * Connect to 127.0.0.1, never "localhost": the servers listen on IPv4 loopback only.
 */
const SCRIPT = new URL("../../scripts/mailstack.sh", import.meta.url).pathname;

/** Plain IMAP; LOGIN works without TLS, and STARTTLS is offered with a self-signed certificate. */
export const IMAP = { host: "127.0.0.1", port: 1143 } as const;
/** IMAP with TLS from the first byte, self-signed certificate. */
export const IMAPS = { host: "127.0.0.1", port: 1993 } as const;
/** Plain SMTP without AUTH; takes mail for example.test and its subdomains only. */
export const SMTP = { host: "127.0.0.1", port: 1025 } as const;
/** SMTP with TLS from the first byte, self-signed certificate, no AUTH. */
export const SMTPS = { host: "127.0.0.1", port: 1465 } as const;
/**
 * Submission with AUTH required, checked by Dovecot: a mailbox password (PLAIN, LOGIN) or an
 * OAuth2 bearer token (XOAUTH2, OAUTHBEARER) that Dovecot introspects at `OIDC_ISSUER`.
 */
export const SUBMISSION = { host: "127.0.0.1", port: 1587 } as const;
/**
 * Where the stack's Dovecot introspects OAuth2 tokens (RFC 7662): the OpenID provider a test
 * starts with tests/support/oidc_server.ts. The port is fixed in scripts/mailstack.sh.
 */
export const OIDC_PORT = 1980;

/** Messages per `deliver` call, well under the kernel's limit on one command line. */
const DELIVER_BATCH = 1000;

async function mailstack(args: string[]): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: [SCRIPT, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    throw new Error(
      `scripts/mailstack.sh ${args.slice(0, 4).join(" ")} failed (exit ${out.code}); ` +
        `is the stack installed (scripts/install_deps.sh) and are you root?\n${text}${err}`,
    );
  }
  return text;
}

/** Starts Dovecot and Postfix unless they run already; cheap to call from every test. */
export async function ensureMailstack(): Promise<void> {
  await mailstack(["start"]);
}

/** Runs doveadm against the stack's Dovecot and returns what it printed. */
export async function doveadm(args: string[]): Promise<string> {
  return await mailstack(["doveadm", ...args]);
}

/** A new mailbox user with a unique name that can log in over IMAP; `user` is the address. */
export async function freshUser(
  prefix: string,
): Promise<{ user: string; pass: string; address: string }> {
  const local = `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`.toLowerCase();
  const address = `${local}@example.test`;
  const pass = crypto.randomUUID();
  await mailstack(["adduser", address, pass]);
  return { user: address, pass, address };
}

/**
 * Puts messages into the user's INBOX byte for byte, in the order given, with no Received header
 * (doveadm import, not SMTP). Give message bytes, or paths of .eml files.
 */
export async function deliverRaw(user: string, messages: Uint8Array[] | string[]): Promise<void> {
  if (messages.length === 0) return;
  const dir = await Deno.makeTempDir({ prefix: "carteiro-deliver-" });
  try {
    const files: string[] = [];
    for (const [i, m] of messages.entries()) {
      if (typeof m === "string") {
        files.push(m);
      } else {
        const file = `${dir}/${String(i).padStart(9, "0")}.eml`;
        await Deno.writeFile(file, m);
        files.push(file);
      }
    }
    for (let i = 0; i < files.length; i += DELIVER_BATCH) {
      await mailstack(["deliver", user, ...files.slice(i, i + DELIVER_BATCH)]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The mailbox's UIDVALIDITY as Dovecot has it now. */
export async function uidValidity(user: string, mailbox: string): Promise<number> {
  const out = await doveadm(["mailbox", "status", "-u", user, "uidvalidity", mailbox]);
  const value = Number(/uidvalidity=(\d+)/.exec(out)?.[1]);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`doveadm printed no UIDVALIDITY for ${user} ${mailbox}: ${out}`);
  }
  return value;
}

/**
 * Gives the mailbox a new UIDVALIDITY, as a server does after a rebuild, and returns it. Clients
 * that have the mailbox open are disconnected by Dovecot.
 */
export async function changeUidValidity(user: string, mailbox: string): Promise<number> {
  const current = await uidValidity(user, mailbox);
  // A non-zero 32-bit value that differs from the current one (RFC 3501 §2.3.1.1).
  const next = current >= 0xffff_fffe ? 1 : current + 1;
  await doveadm(["mailbox", "update", "-u", user, "--uid-validity", String(next), mailbox]);
  return next;
}

/** The login for a user on the plain loopback IMAP port. */
export function imapConfig(
  user: string,
  pass: string,
): { host: string; port: number; secure: boolean; user: string; pass: string } {
  return { host: IMAP.host, port: IMAP.port, secure: false, user, pass };
}

/**
 * The settings that point the service at a loopback mailbox: plain IMAP (on `imapPort`, e.g. a
 * proxy in front of Dovecot) and Postfix without login.
 */
export function mailboxEnv(
  box: { user: string; pass: string; address: string },
  imapPort: number = IMAP.port,
): Record<string, string> {
  return {
    EMAIL_HOST: IMAP.host,
    IMAP_PORT: String(imapPort),
    IMAP_TLS: "false",
    EMAIL_USER: box.user,
    EMAIL_PASS: box.pass,
    EMAIL_ADDRESS: box.address,
    SMTP_HOST: SMTP.host,
    SMTP_PORT: String(SMTP.port),
    SMTP_TLS: "false",
    SMTP_AUTH: "false",
  };
}

/**
 * Dovecot's login lines for `user`, oldest first: each ends with how the session was protected
 * (`TLS` after TLS or STARTTLS; `secured` for plain IMAP on loopback), as Dovecot saw it.
 */
export async function dovecotLogins(user: string): Promise<string[]> {
  const log = `${await stackState()}/log/dovecot.log`;
  const lines = (await Deno.readTextFile(log)).split("\n");
  return lines.filter((l) => l.includes(" Login: ") && l.includes(`user=<${user}>`));
}

/** The stack's state folder, as `scripts/mailstack.sh status` names it. */
async function stackState(): Promise<string> {
  const state = /^state: (.+)$/m.exec(await mailstack(["status"]))?.[1];
  if (!state) throw new Error("scripts/mailstack.sh status printed no state folder");
  return state;
}

/**
 * Hands `raw` to the loopback Postfix (its `sendmail`, as a local program would) with
 * `envelopeFrom` as sender and a recipient in a domain it never delivers to: Postfix bounces it,
 * and its own delivery status notification (RFC 3464) goes back to `envelopeFrom`'s mailbox.
 * Returns the recipient that bounced.
 */
export async function bounceThroughPostfix(raw: Uint8Array, envelopeFrom: string): Promise<string> {
  const state = await stackState();
  const recipient = `nobody-${crypto.randomUUID().slice(0, 8)}@bounce.invalid`;
  const child = new Deno.Command("/usr/sbin/sendmail", {
    args: [
      "-C",
      `${state}/postfix/etc`,
      "-f",
      envelopeFrom,
      "-N",
      "failure",
      "-i",
      "--",
      recipient,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(raw);
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `Postfix's sendmail failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return recipient;
}

/**
 * The user's IMAP connections as Dovecot has them now: each `imap` process `doveadm who` lists,
 * with the mailbox it has selected (null: none), read from what the process holds open. A
 * process in IDLE on a Maildir mailbox watches that mailbox's `new/` and `cur/` folders (inotify),
 * which names it for certain; otherwise the selected mailbox's `dovecot-uidlist`, which Dovecot
 * keeps open only some of the time (`Maildir/` for INBOX, `Maildir/.Name/` for the others).
 * Needs the same user as Dovecot's processes (root), like the rest of the stack.
 */
export async function imapConnections(
  user: string,
): Promise<Array<{ pid: number; mailbox: string | null }>> {
  const who = await doveadm(["who", "-1", user]);
  const pids = [...who.matchAll(/^\S+\s+imap\s+(\d+)\s/gm)].map((m) => Number(m[1]));
  const out: Array<{ pid: number; mailbox: string | null }> = [];
  for (const pid of pids) {
    let uidlist: string | null = null;
    let maildir: string | null = null;
    const watched = new Set<string>();
    try {
      for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
        let target: string;
        try {
          target = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`);
        } catch {
          continue; // closed meanwhile
        }
        maildir ??= /^(.*\/Maildir)\//.exec(target)?.[1] ?? null;
        const m = /\/Maildir\/(?:\.([^/]+)\/)?dovecot-uidlist$/.exec(target);
        if (m) uidlist = m[1] ?? "INBOX";
        if (target === "anon_inode:inotify") {
          let info: string;
          try {
            info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd.name}`);
          } catch {
            continue; // closed meanwhile
          }
          for (const w of info.matchAll(/^inotify .*\bino:([0-9a-f]+)\b/gm)) watched.add(w[1]);
        }
      }
    } catch {
      continue; // the connection ended between doveadm and now
    }
    out.push({ pid, mailbox: (maildir && watchedMailbox(maildir, watched)) ?? uidlist });
  }
  return out;
}

/** The mailbox of `maildir` whose `new/` or `cur/` folder is among the `watched` inodes (hex). */
function watchedMailbox(maildir: string, watched: Set<string>): string | null {
  if (watched.size === 0) return null;
  const boxes = [["INBOX", maildir]];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(maildir)];
  } catch {
    return null; // the user's mail went away meanwhile
  }
  for (const e of entries) {
    if (e.isDirectory && e.name.startsWith(".")) {
      boxes.push([e.name.slice(1), `${maildir}/${e.name}`]);
    }
  }
  for (const [name, dir] of boxes) {
    for (const sub of ["new", "cur"]) {
      try {
        if (watched.has((Deno.statSync(`${dir}/${sub}`).ino ?? -1).toString(16))) return name;
      } catch {
        // not made yet
      }
    }
  }
  return null;
}
