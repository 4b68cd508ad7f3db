// End-to-end harness: runs the built worker under `wrangler dev` (workerd, the real runtime) on free
// loopback ports, with its own fresh D1/KV directory and its own secrets, so test files can run side
// by side and never touch the developer's local data. Needs a build/ (`make build`); it never builds.
import { spawn, execFile } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { formatDevVars, generateSecrets } from "../../scripts/gen-dev-vars.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
const LOG_DIR = join(ROOT, "tests", "e2e", ".out");
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

const ENV = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  // The build ran before the tests (`make test-e2e` depends on `make build`).
  SKIP_WORKER_BUILD: "1",
};

/** A port nothing listens on right now (the OS picks it). */
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the worker and waits until `GET /health` answers 200.
 * `vars` override wrangler.toml's [vars] (e.g. TELEGRAM_API_BASE pointing at a local fake);
 * `secrets` override the freshly generated ones.
 * Returns { url, secrets, persistDir, logFile, fetch(path, init), stop() }; always call stop().
 */
export async function startWorker({ vars = {}, secrets = {}, label } = {}) {
  const name = label ?? basename(process.argv[1] ?? "e2e").replace(/\.m?js$/, "");
  const dir = mkdtempSync(join(tmpdir(), "extranet-e2e-"));
  const persistDir = join(dir, "state");
  const envFile = join(dir, "dev.vars");
  const allSecrets = { ...generateSecrets(), ...secrets };
  writeFileSync(envFile, formatDevVars({ ...vars, ...allSecrets }), { mode: 0o600 });

  await promisify(execFile)(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], {
    cwd: ROOT,
    env: ENV,
  });

  const [port, inspectorPort] = [await freePort(), await freePort()];
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `${name}.log`);
  const log = createWriteStream(logFile);
  // A new process group (detached), so stop() can end workerd along with wrangler.
  const child = spawn(
    WRANGLER,
    [
      "dev",
      "--ip", "127.0.0.1",
      "--port", String(port),
      "--inspector-port", String(inspectorPort),
      "--persist-to", persistDir,
      "--env-file", envFile,
      "--show-interactive-dev-session=false",
    ],
    { cwd: ROOT, env: ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let running = true;
  exited.then(() => (running = false));
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  // If the test process dies without calling stop(), take the worker down with it.
  const onExit = () => killGroup("SIGKILL");
  process.once("exit", onExit);

  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (running) {
      killGroup("SIGTERM");
      const timer = setTimeout(() => killGroup("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    // workerd may outlive wrangler for a moment; the group kill reaches it too.
    killGroup("SIGKILL");
    process.removeListener("exit", onExit);
    log.end();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForHealth(url, () => running, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    secrets: allSecrets,
    persistDir,
    logFile,
    fetch: (path, init) => fetch(new URL(path, url), { redirect: "manual", ...init }),
    stop,
  };
}

async function waitForHealth(url, isRunning, logFile) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (!isRunning()) throw new Error(`wrangler dev exited before serving; see ${logFile}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `status ${res.status}: ${(await res.text()).slice(0, 200)}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`wrangler dev did not serve /health within ${START_TIMEOUT_MS} ms (${last}); see ${logFile}`);
}
