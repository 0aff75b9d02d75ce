/**
 * PostgreSQL over TLS, as a managed server (Aiven) is reached: sslmode=require / verify-full with a
 * CA given as a file or as PEM text. The local server (loopback, trust auth) is switched to TLS with
 * a CA made here, and switched back to how it was found, whatever happens.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase, POSTGRES_ADMIN_URL } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import { openPostgres, PostgresTlsError } from "../../src/store/postgres_db.ts";
import type { Db } from "../../src/store/db.ts";

const TLS_SETTINGS = ["ssl", "ssl_cert_file", "ssl_key_file"] as const;

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}${text}`,
    );
  }
  return text;
}

/** A CA, a server certificate it signed (127.0.0.1 and localhost), and an unrelated CA. */
async function makeCertificates(dir: string) {
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=Carteiro test CA",
  ], dir);
  await run("openssl", [
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    "wrong-ca.key",
    "-out",
    "wrong-ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=Some other CA",
  ], dir);
  await run("openssl", [
    "req",
    ...newKey,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  ], dir);
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n" +
      "keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "server.ext",
    "-out",
    "server.crt",
  ], dir);
  return {
    caFile: `${dir}/ca.pem`,
    wrongCaFile: `${dir}/wrong-ca.pem`,
    ca: await Deno.readTextFile(`${dir}/ca.pem`),
    wrongCa: await Deno.readTextFile(`${dir}/wrong-ca.pem`),
  };
}

/** Copies the server's key and certificate into a folder of the postgres OS user. */
async function installForServer(from: string): Promise<{ dir: string; cert: string; key: string }> {
  const uid = Number((await run("id", ["-u", "postgres"])).trim());
  const gid = Number((await run("id", ["-g", "postgres"])).trim());
  const dir = await Deno.makeTempDir({ prefix: "carteiro_pg_tls_" });
  const cert = `${dir}/server.crt`;
  const key = `${dir}/server.key`;
  await Deno.copyFile(`${from}/server.crt`, cert);
  await Deno.copyFile(`${from}/server.key`, key);
  // PostgreSQL refuses a key file that others can read.
  await Deno.chmod(key, 0o600);
  await Deno.chmod(cert, 0o644);
  for (const path of [dir, cert, key]) await Deno.chown(path, uid, gid);
  return { dir, cert, key };
}

function quote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

async function showSsl(admin: Db): Promise<string> {
  const [row] = await admin.query<{ ssl: string }>("SHOW ssl");
  return row.ssl;
}

/** Waits until the reloaded configuration is seen (the postmaster reloads before its children). */
async function waitForSsl(admin: Db, wanted: "on" | "off"): Promise<void> {
  const deadline = Date.now() + 60_000;
  let seen = await showSsl(admin);
  while (seen !== wanted && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    seen = await showSsl(admin);
  }
  assert.equal(seen, wanted, `the server did not take ssl = ${wanted} after pg_reload_conf()`);
}

/** The values of the TLS settings written by ALTER SYSTEM before the test, to put them back. */
async function savedTlsSettings(admin: Db): Promise<Map<string, string>> {
  const rows = await admin.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_file_settings
      WHERE sourcefile LIKE '%postgresql.auto.conf' AND name = ANY($1::text[])`,
    [[...TLS_SETTINGS]],
  );
  return new Map(rows.map((r) => [r.name, r.setting]));
}

async function restoreTlsSettings(admin: Db, saved: Map<string, string>): Promise<void> {
  for (const name of TLS_SETTINGS) {
    const value = saved.get(name);
    await admin.exec(
      value === undefined
        ? `ALTER SYSTEM RESET ${name}`
        : `ALTER SYSTEM SET ${name} = ${quote(value)}`,
    );
  }
  await admin.exec("SELECT pg_reload_conf()");
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function withSslmode(url: string, sslmode: string): string {
  const u = new URL(url);
  u.searchParams.set("sslmode", sslmode);
  return u.toString();
}

/** Whether the session that answers is encrypted, as the server sees it. */
async function encrypted(options: Parameters<typeof openPostgres>[0]): Promise<boolean> {
  const db = openPostgres({ ...options, max: 1 });
  try {
    const [row] = await db.query<{ ssl: boolean }>(
      "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    return row.ssl;
  } finally {
    await db.close();
  }
}

/** Connects and expects a PostgresTlsError for `problem` whose message matches `message`. */
async function refused(
  options: Parameters<typeof openPostgres>[0],
  problem: PostgresTlsError["problem"],
  message: RegExp,
): Promise<void> {
  const db = openPostgres({ ...options, max: 1 });
  try {
    await assert.rejects(db.query("SELECT 1"), (e: unknown) => {
      assert.ok(e instanceof PostgresTlsError, `expected a PostgresTlsError, got ${e}`);
      assert.equal(e.problem, problem, e.message);
      assert.match(e.message, message);
      assert.ok(e.cause instanceof Error, "the driver's error is kept as cause");
      return true;
    });
  } finally {
    await db.close();
  }
}

Deno.test("PostgreSQL over TLS with a CA: verified, encrypted, and refused with a clear message", async (t) => {
  const admin = openPostgres({ url: POSTGRES_ADMIN_URL, max: 1 });
  const work = await Deno.makeTempDir({ prefix: "carteiro_tls_" });
  const fresh = await freshPostgresDatabase();
  let serverFiles: { dir: string; cert: string; key: string } | null = null;
  try {
    assert.equal(
      await showSsl(admin),
      "off",
      `this test switches TLS on and off at ${POSTGRES_ADMIN_URL}; it expects ssl off to start`,
    );
    const saved = await savedTlsSettings(admin);
    const certs = await makeCertificates(work);
    const server = new URL(fresh.url);
    const at = escape(`${server.hostname}:${server.port || 5432}`);
    const caSource = `DATABASE_CA_FILE ${certs.caFile}`;
    const wrongSource = `DATABASE_CA_FILE ${certs.wrongCaFile}`;

    await t.step("the server starts without TLS: a plain connection is not encrypted", async () => {
      assert.equal(await encrypted({ url: fresh.url }), false);
    });

    await t.step(
      "sslmode=require against a plain-text server fails, never goes plain",
      async () => {
        await refused(
          { url: withSslmode(fresh.url, "require") },
          "server-without-tls",
          new RegExp(
            `^PostgreSQL at ${at} does not accept TLS connections, and sslmode=require was asked: ` +
              "Carteiro does not fall back to plain text",
          ),
        );
      },
    );

    await t.step("sslmode=verify-full with a CA against a plain-text server fails", async () => {
      await refused(
        { url: withSslmode(fresh.url, "verify-full"), ca: certs.ca, caSource },
        "server-without-tls",
        new RegExp(`^PostgreSQL at ${at} does not accept TLS connections, and sslmode=verify-full`),
      );
    });

    await t.step("sslmode=prefer with a CA does not fall back to plain text either", async () => {
      await refused(
        { url: withSslmode(fresh.url, "prefer"), ca: certs.ca, caSource },
        "server-without-tls",
        new RegExp(
          `^PostgreSQL at ${at} does not accept TLS connections, and a CA was given ` +
            `\\(DATABASE_CA_FILE ${escape(certs.caFile)}\\)`,
        ),
      );
    });

    serverFiles = await installForServer(work);
    await admin.exec("ALTER SYSTEM SET ssl = on");
    await admin.exec(`ALTER SYSTEM SET ssl_cert_file = ${quote(serverFiles.cert)}`);
    await admin.exec(`ALTER SYSTEM SET ssl_key_file = ${quote(serverFiles.key)}`);
    try {
      await admin.exec("SELECT pg_reload_conf()");
      await waitForSsl(admin, "on");

      await t.step("verify-full with the CA as PEM text connects, encrypted", async () => {
        assert.equal(
          await encrypted({
            url: withSslmode(fresh.url, "verify-full"),
            ca: certs.ca,
            caSource: "DATABASE_CA",
          }),
          true,
        );
      });

      await t.step("require without a CA connects, encrypted", async () => {
        assert.equal(await encrypted({ url: withSslmode(fresh.url, "require") }), true);
      });

      await t.step("verify-full with the wrong CA names the certificate problem", async () => {
        await refused(
          { url: withSslmode(fresh.url, "verify-full"), ca: certs.wrongCa, caSource: wrongSource },
          "untrusted-certificate",
          new RegExp(
            `^the TLS certificate of PostgreSQL at ${at} was not signed by the CA in ` +
              `DATABASE_CA_FILE ${escape(certs.wrongCaFile)} \\(.+\\)`,
          ),
        );
      });

      await t.step("verify-full without a CA refuses the self-signed server", async () => {
        await refused(
          { url: withSslmode(fresh.url, "verify-full") },
          "untrusted-certificate",
          new RegExp(
            `^the TLS certificate of PostgreSQL at ${at} was not signed by a CA this machine ` +
              "trusts \\(.+\\): give the server's CA certificate in DATABASE_CA_FILE or DATABASE_CA",
          ),
        );
      });

      await t.step("main.ts cli stats with DATABASE_CA_FILE, then with DATABASE_CA", async () => {
        const url = withSslmode(fresh.url, "verify-full");
        const byFile = await runCli(["stats"], {
          DATABASE_URL: url,
          DATABASE_CA_FILE: certs.caFile,
          DATABASE_CA: "",
        });
        assert.equal(byFile.code, 0, byFile.stderr);
        assert.equal(byFile.docs.length, 1, byFile.stderr);
        const byPem = await runCli(["stats"], {
          DATABASE_URL: url,
          DATABASE_CA_FILE: "",
          DATABASE_CA: certs.ca,
        });
        assert.equal(byPem.code, 0, byPem.stderr);
        assert.deepEqual(byPem.docs, byFile.docs);
      });

      await t.step(
        "main.ts cli stats with the wrong CA file exits with the message alone",
        async () => {
          const wrong = await runCli(["stats"], {
            DATABASE_URL: withSslmode(fresh.url, "verify-full"),
            DATABASE_CA_FILE: certs.wrongCaFile,
            DATABASE_CA: "",
          });
          assert.equal(wrong.code, 1, "a wrong CA must stop the program");
          assert.deepEqual(wrong.docs, []);
          assert.doesNotMatch(wrong.stderr, /Uncaught|\n\s+at /, "one line, not a stack trace");
          assert.match(
            wrong.stderr,
            new RegExp(
              `the TLS certificate of PostgreSQL at ${at} was not signed by the CA in ` +
                `DATABASE_CA_FILE ${escape(certs.wrongCaFile)}`,
            ),
          );
        },
      );
    } finally {
      await restoreTlsSettings(admin, saved);
      await waitForSsl(admin, "off");
    }
  } finally {
    await fresh.drop();
    await admin.close();
    await Deno.remove(work, { recursive: true });
    if (serverFiles) await Deno.remove(serverFiles.dir, { recursive: true });
  }
});
