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
  const seen = { stdout: "", stderr: "" };
  const io: LocalIo = {
    stdout: (text) => Promise.resolve(void (seen.stdout += text)),
    stderr: (text) => Promise.resolve(void (seen.stderr += text)),
    readLine: () => Promise.resolve(lines.shift() ?? null),
    readFile: (path) => {
      const text = input.files?.[path];
      if (text === undefined) return Promise.reject(new Error(`${path}: not found`));
      return Promise.resolve(new TextEncoder().encode(text));
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
