// Entrypoint of a TypeScript tool call, run by node inside the sandbox (cwd = the call's private work dir).
// Node may start before the call is known (a warm runtime waiting for its one job) or for it (cold); either way
// it reads ONE job line on stdin: {"entrypoint", "args", "arg_order", "env", "module", "proxy"} and then
// runs exactly that call and exits. The result goes to file descriptor 3 as one JSON object, like the Python
// runner's. Node 20's fetch ignores HTTP(S)_PROXY, so with a proxy the runner installs undici's ProxyAgent as the
// global dispatcher, which the built-in fetch uses (undici 6, the major Node 20 bundles).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

let undici = null;
try {
  undici = await import("undici"); // loaded while waiting, off the call's critical path
} catch {
  undici = null;
}

// Read the job without blocking the event loop: while the runtime waits, work that is still pending (V8 compiling
// undici's WebAssembly HTTP parser, for one) finishes instead of landing on the call's critical path. One read at a
// time, and none left outstanding once the line is in: a read still blocked on stdin (whose write end the monitor
// keeps open) would keep node from exiting.
async function readJob() {
  const chunks = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    const bytesRead = await new Promise((resolve, reject) => {
      fs.read(0, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n)));
    });
    if (bytesRead === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
    if (buf[bytesRead - 1] === 10) break;
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) process.exit(0); // the monitor closed a warm runtime it no longer needs
  return JSON.parse(text);
}

function report(payload) {
  let text;
  try {
    text = JSON.stringify(payload);
  } catch {
    text = JSON.stringify({ ok: payload.ok, result: String(payload.result) });
  }
  fs.writeSync(3, text);
}

const job = await readJob();
let payload;
try {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, job.env);
  if (job.proxy) {
    if (undici === null) throw new Error("the undici package is missing: run `npm ci` in sandbox/typescript");
    undici.setGlobalDispatcher(new undici.ProxyAgent(job.proxy));
  }
  fs.writeFileSync("tool.mjs", job.module);
  const mod = await import(pathToFileURL(path.resolve("tool.mjs")).href);
  const fn =
    mod[job.entrypoint] ?? (mod.default && mod.default.name === job.entrypoint ? mod.default : undefined);
  if (typeof fn !== "function") {
    throw new TypeError(`the tool module exports no function ${JSON.stringify(job.entrypoint)}`);
  }
  const args = job.arg_order.map((name) => job.args[name]);
  const result = await fn(...args);
  payload = { ok: true, result: result === undefined ? null : result };
} catch (err) {
  const isErr = err instanceof Error;
  payload = {
    ok: false,
    error: {
      type: isErr ? err.name : "Error",
      message: isErr ? err.message : String(err),
    },
  };
  if (err instanceof RangeError && /memory|allocation/i.test(err.message)) payload.error.type = "MemoryError";
}
report(payload);
process.exit(0);
