// A fake Telegram Bot API on loopback for the end-to-end tests: it answers `POST /bot<token>/<method>`
// like the real one (sendMessage returns a new message_id) and records every call, so a test can
// check exactly what the worker sent. `failNext(status, times, description)` makes the next calls fail.
import { createServer } from "node:http";

export async function startFakeTelegram({ token }) {
  const calls = [];
  const failures = [];
  let nextMessageId = 1000;
  const waiters = new Set();

  const server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      const match = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? "");
      let body = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      const reply = (status, payload) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(payload));
      };
      if (!match || req.method !== "POST") return reply(404, { ok: false, error_code: 404, description: "Not Found" });
      if (match[1] !== token) return reply(401, { ok: false, error_code: 401, description: "Unauthorized" });
      const call = { method: match[2], body, contentType: req.headers["content-type"] };
      const failure = failures.shift();
      if (failure) {
        calls.push({ ...call, failed: failure.status });
        for (const w of waiters) w();
        return reply(failure.status, { ok: false, error_code: failure.status, description: failure.description });
      }
      if (call.method === "sendMessage") {
        call.messageId = ++nextMessageId;
        calls.push(call);
        for (const w of waiters) w();
        return reply(200, { ok: true, result: { message_id: call.messageId, date: Math.floor(Date.now() / 1000), chat: { id: body?.chat_id }, text: body?.text } });
      }
      calls.push(call);
      return reply(400, { ok: false, error_code: 400, description: `method ${call.method} not faked` });
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    /** Messages sent to `chatId` (successful sendMessage calls), in order. */
    sentTo: (chatId) => calls.filter((c) => c.method === "sendMessage" && !c.failed && c.body?.chat_id === chatId),
    failNext: (status, times = 1, description = "fake failure") => {
      for (let i = 0; i < times; i++) failures.push({ status, description });
    },
    /** Resolves once `predicate()` holds (checked after each call), or rejects after `ms`. */
    waitFor: (predicate, ms = 5_000) =>
      new Promise((resolve, reject) => {
        if (predicate()) return resolve();
        const check = () => {
          if (predicate()) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`fake Telegram: condition not met within ${ms} ms; calls: ${JSON.stringify(calls)}`));
        }, ms);
        waiters.add(check);
      }),
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
