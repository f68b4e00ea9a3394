/** A real tessera for the tests: the binary (`TESSERA_BIN`, or the workspace's debug build) on a free loopback port with a fresh data dir. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Tessera } from "../src/index.js";

export interface Running {
  url: string;
  admin: Tessera;
  /** tessera's gateway in front of git's smart HTTP backend (scripts/clients starts the backend). */
  git?: { gatewayUrl: string; root: string };
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => done(port));
    });
    server.on("error", fail);
  });
}

export async function startTessera(): Promise<Running> {
  const binary = process.env.TESSERA_BIN ?? resolve("../../target/debug/tessera");
  if (!existsSync(binary)) throw new Error(`no tessera binary at ${binary}: build it (cargo build -p tessera) or set TESSERA_BIN`);
  const dir = mkdtempSync(join(tmpdir(), "tessera-ts-"));
  const port = await freePort();
  const args = ["serve", "--data-dir", join(dir, "data"), "--listen", `127.0.0.1:${port}`, "--admin-token-file", join(dir, "admin")];
  const { TESSERA_GIT_UPSTREAM: upstream, TESSERA_GIT_ROOT: gitRoot, TESSERA_GIT_ROUTES: routes } = process.env;
  let git: Running["git"];
  if (upstream && gitRoot && routes) {
    const gatewayPort = await freePort();
    args.push("--config", routes, "--upstream", upstream, "--gateway-listen", `127.0.0.1:${gatewayPort}`);
    git = { gatewayUrl: `http://127.0.0.1:${gatewayPort}`, root: gitRoot };
  }
  const child: ChildProcess = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok && existsSync(join(dir, "admin"))) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`tessera did not start:\n${log}`);
    await new Promise((wait) => setTimeout(wait, 50));
  }
  const admin = new Tessera({ baseUrl: url, token: readFileSync(join(dir, "admin"), "utf8").trim() });
  return {
    url,
    admin,
    ...(git ? { git } : {}),
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((done) => (child.exitCode !== null ? done(null) : child.once("exit", done)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
