// Entrypoint of a TypeScript tool call, run by node inside the isolated worker (cwd = the call's temp dir).
// input.json: {"entrypoint", "args", "arg_order"}; tool.mjs: the user's module compiled by esbuild.
// The result goes to file descriptor 3 as one JSON object, like the Python runner's.
import fs from "node:fs";

function report(payload) {
  let text;
  try {
    text = JSON.stringify(payload);
  } catch {
    text = JSON.stringify({ ok: payload.ok, result: String(payload.result) });
  }
  fs.writeSync(3, text);
}

let payload;
try {
  const input = JSON.parse(fs.readFileSync("input.json", "utf8"));
  const mod = await import("./tool.mjs");
  const fn = mod[input.entrypoint] ?? (mod.default && mod.default.name === input.entrypoint ? mod.default : undefined);
  if (typeof fn !== "function") {
    throw new TypeError(`the tool module exports no function ${JSON.stringify(input.entrypoint)}`);
  }
  const args = input.arg_order.map((name) => input.args[name]);
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
