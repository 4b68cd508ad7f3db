// End-to-end harness: runs the built worker under `wrangler dev` (workerd, the real runtime) on free
// loopback ports, with its own fresh D1/KV directory and its own secrets, so test files can run side
// by side and never touch the developer's local data. Needs a build/ (`make build`); it never builds.
import { spawn, execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { formatDevVars, generateSecrets } from "../../scripts/gen-dev-vars.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MIGRATIONS = join(ROOT, "migrations");
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

/** `count` distinct ports nothing listens on right now (the OS picks them; all are held until each is known). */
async function freePorts(count) {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise((resolve, reject) => {
        const server = createServer();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => server.address().port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * A local D1/KV state directory with every migration applied, made once per set of migrations and
 * copied for each worker: applying them is a wrangler run of its own, seconds per test file.
 * Test files run in separate processes, so the one that builds it publishes it with an atomic rename.
 */
async function migratedState() {
  const hash = createHash("sha256");
  for (const name of readdirSync(MIGRATIONS).sort()) {
    hash.update(name).update("\0").update(readFileSync(join(MIGRATIONS, name))).update("\0");
  }
  const prefix = "d1-migrated-";
  const ready = join(LOG_DIR, prefix + hash.digest("hex").slice(0, 16));
  if (existsSync(ready)) return ready;

  mkdirSync(LOG_DIR, { recursive: true });
  const fresh = mkdtempSync(join(LOG_DIR, "d1-migrating-"));
  try {
    await promisify(execFile)(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", fresh], {
      cwd: ROOT,
      env: ENV,
    });
    renameSync(fresh, ready);
  } catch (err) {
    rmSync(fresh, { recursive: true, force: true });
    // Another test file published the same state first: use it.
    if (!existsSync(ready)) throw err;
  }
  for (const old of readdirSync(LOG_DIR)) {
    if (old.startsWith(prefix) && join(LOG_DIR, old) !== ready) {
      rmSync(join(LOG_DIR, old), { recursive: true, force: true });
    }
  }
  return ready;
}

/**
 * Starts the worker and waits until `GET /health` answers 200.
 * `vars` override wrangler.toml's [vars] (e.g. TELEGRAM_API_BASE pointing at a local fake);
 * `secrets` override the freshly generated ones.
 * Returns { url, secrets, persistDir, logFile, fetch(path, init), stop() }; always call stop().
 */
export async function startWorker({ vars = {}, secrets = {}, label } = {}) {
  const name = label ?? basename(process.argv[1] ?? "e2e").replace(/\.m?js$/, "");
  const migrated = await migratedState();
  const dir = mkdtempSync(join(tmpdir(), "extranet-e2e-"));
  const persistDir = join(dir, "state");
  const envFile = join(dir, "dev.vars");
  const allSecrets = { ...generateSecrets(), ...secrets };
  writeFileSync(envFile, formatDevVars({ ...vars, ...allSecrets }), { mode: 0o600 });

  cpSync(migrated, persistDir, { recursive: true });

  const [port, inspectorPort] = await freePorts(2);
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
