/**
 * The command socket on a real Unix socket: a client's command runs at the owner with the
 * client's stdin and files, its output comes back in order, several run at once, and a socket
 * that is closing runs nothing new.
 */
import assert from "node:assert/strict";
import { serveCommandSocket } from "../../src/cli/command_socket_server.ts";
import { forwardCommand, type LocalIo } from "../../src/cli/command_socket_client.ts";

function recordingIo(input: { lines?: string[]; files?: Record<string, string> } = {}) {
  const lines = [...(input.lines ?? [])];
  const seen = { stdout: "", stderr: "", written: {} as Record<string, Uint8Array[]> };
  const io: LocalIo = {
    stdout: (text) => Promise.resolve(void (seen.stdout += text)),
    stderr: (text) => Promise.resolve(void (seen.stderr += text)),
    readLine: () => Promise.resolve(lines.shift() ?? null),
    readFile: (path) => {
      const text = input.files?.[path];
      if (text === undefined) return Promise.reject(new Error(`${path}: not found`));
      return Promise.resolve(new TextEncoder().encode(text));
    },
    createFile: (path) => {
      if (path.startsWith("/forbidden/")) return Promise.reject(new Error(`${path}: denied`));
      const chunks: Uint8Array[] = seen.written[path] = [];
      return Promise.resolve({
        write: (bytes) => {
          if (path.endsWith(".full")) return Promise.reject(new Error("no space left"));
          chunks.push(bytes.slice());
          return Promise.resolve();
        },
        close: () => Promise.resolve(),
      });
    },
  };
  return { io, seen };
}

async function socketPath(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "carteiro-sock-" });
  return {
    path: `${dir}/carteiro.sock`,
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("a command writes a file of the client's, in order, and learns of a failed write", async () => {
  const { path, cleanup } = await socketPath();
  const big = new Uint8Array(3_000_000).map((_, i) => i % 251);
  const socket = await serveCommandSocket({
    path,
    run: async (_request, remote) => {
      const file = await remote.createFile("export.mbox");
      await file.write(new TextEncoder().encode("From "));
      await file.write(big);
      await file.close();
      await assert.rejects(remote.createFile("/forbidden/x"), /\/forbidden\/x: denied/);
      const full = await remote.createFile("disk.full");
      await full.write(new Uint8Array(10));
      await assert.rejects(full.close(), /no space left/);
      return 0;
    },
  });
  try {
    const { io, seen } = recordingIo();
    assert.deepEqual(await forwardCommand(path, { args: ["export"], tty: false }, io), {
      reached: true,
      code: 0,
    });
    const parts = seen.written["export.mbox"];
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) bytes.set(p, (at += p.length) - p.length);
    assert.equal(bytes.length, 5 + big.length);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 5)), "From ");
    assert.deepEqual(bytes.subarray(5), big);
  } finally {
    await socket.close();
    await cleanup();
  }
});

Deno.test("a command runs at the owner with the client's stdin and files, output in order", async () => {
  const { path, cleanup } = await socketPath();
  const socket = await serveCommandSocket({
    path,
    run: async (request, remote) => {
      remote.out(`args=${request.args.join(",")} tty=${request.tty}\n`);
      const line = await remote.readLine();
      remote.err(`line=${line}\n`);
      const file = new TextDecoder().decode(await remote.readFile("rules.json"));
      remote.out(`file=${file}\n`);
      await assert.rejects(remote.readFile("missing.json"), /missing\.json: not found/);
      remote.out("x".repeat(3_000_000));
      return 7;
    },
  });
  try {
    const mode = (await Deno.stat(path)).mode! & 0o777;
    assert.equal(mode, 0o600, `socket mode ${mode.toString(8)}`);
    const { io, seen } = recordingIo({ lines: ["senha"], files: { "rules.json": "[1,2]" } });
    const result = await forwardCommand(path, { args: ["user", "add"], tty: false }, io);
    assert.deepEqual(result, { reached: true, code: 7 });
    assert.equal(seen.stderr, "line=senha\n");
    assert.ok(seen.stdout.startsWith("args=user,add tty=false\nfile=[1,2]\nxxx"), seen.stdout);
    assert.equal(seen.stdout.length, "args=user,add tty=false\nfile=[1,2]\n".length + 3_000_000);
  } finally {
    await socket.close();
    await cleanup();
  }
});

Deno.test("several commands run at once, and close waits for them", async () => {
  const { path, cleanup } = await socketPath();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let inside = 0;
  let most = 0;
  const socket = await serveCommandSocket({
    path,
    run: async (request, remote) => {
      inside++;
      most = Math.max(most, inside);
      await gate;
      inside--;
      remote.out(request.args[0]);
      return 0;
    },
  });
  try {
    const runs = ["a", "b", "c"].map((name) => {
      const { io, seen } = recordingIo();
      return forwardCommand(path, { args: [name], tty: false }, io).then((r) => ({ r, seen }));
    });
    while (inside < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    const closed = socket.close();
    // A command that arrives while the socket closes is not run: the client is told so.
    const late = await forwardCommand(path, { args: ["late"], tty: false }, recordingIo().io);
    assert.deepEqual(late, { reached: false });
    release();
    await closed;
    const done = await Promise.all(runs);
    assert.deepEqual(done.map((d) => [d.r, d.seen.stdout]), [
      [{ reached: true, code: 0 }, "a"],
      [{ reached: true, code: 0 }, "b"],
      [{ reached: true, code: 0 }, "c"],
    ]);
    assert.equal(most, 3);
  } finally {
    release();
    await socket.close();
    await cleanup();
  }
});

Deno.test("no owner listening: the client is told nothing ran", async () => {
  const { path, cleanup } = await socketPath();
  try {
    assert.deepEqual(
      await forwardCommand(path, { args: ["stats"], tty: false }, recordingIo().io),
      { reached: false },
    );
    // A socket file left by a dead owner: nobody accepts on it.
    const dead = Deno.listen({ transport: "unix", path });
    dead.close();
    assert.deepEqual(
      await forwardCommand(path, { args: ["stats"], tty: false }, recordingIo().io),
      { reached: false },
    );
  } finally {
    await cleanup();
  }
});

Deno.test("a command that throws at the owner ends with exit 1 and its message", async () => {
  const { path, cleanup } = await socketPath();
  const socket = await serveCommandSocket({
    path,
    run: () => Promise.reject(new Error("the database is gone")),
  });
  try {
    const { io, seen } = recordingIo();
    assert.deepEqual(await forwardCommand(path, { args: ["stats"], tty: false }, io), {
      reached: true,
      code: 1,
    });
    assert.equal(seen.stderr, "carteiro: the database is gone\n");
  } finally {
    await socket.close();
    await cleanup();
  }
});
