// An mtcute (npm `@mtcute/node`, API layer 227) bot or user for tests/integration/test_js_peers.py.
//
// The same orders and reports as gramjs_peer.js (see its header): one JSON object on the
// first line of stdin, JSON lines on stdout, running until stdin closes.
import crypto from "node:crypto";
import { BotKeyboard, MemoryStorage, TelegramClient } from "@mtcute/node";
import common from "./peer_common.cjs";

const { report, reportAnswer, serve } = common;

// mtcute's table of server keys is not among the package's exports: import its file by
// path, the same module instance the library itself uses.
const { __publicKeyIndex } = await import(
  new URL("tl/binary/rsa-keys.js", import.meta.resolve("@mtcute/core")).href
);
const { LAYER } = await import(new URL("tl/inner-tl.js", import.meta.resolve("@mtcute/core")).href);

function trust(pem, fingerprint) {
  // Keys are indexed by the fingerprint as unsigned hex.
  const jwk = crypto.createPublicKey(pem).export({ format: "jwk" });
  const hexOf = (b64url) => Buffer.from(b64url, "base64url").toString("hex");
  const fp = BigInt.asUintN(64, BigInt(fingerprint)).toString(16);
  __publicKeyIndex[fp] = { modulus: hexOf(jwk.n), exponent: hexOf(jwk.e), fingerprint: fp, old: false };
}

function client(orders) {
  const dc = { id: 2, ipAddress: orders.host, port: orders.port };
  return new TelegramClient({
    apiId: 1,
    apiHash: "loopgram",
    storage: new MemoryStorage(),
    defaultDcs: { main: dc, media: dc },
    logLevel: 0,
  });
}

async function runBot(orders) {
  const bot = client(orders);
  const me = await bot.start({ botToken: orders.token });
  bot.onNewMessage.add(async (message) => {
    if (!message.text.startsWith("/start")) return;
    const rows = orders.keyboard.map((row) => row.map(([text, data]) => BotKeyboard.callback(text, data)));
    await bot.sendText(message.chat.id, "pick one", { replyMarkup: BotKeyboard.inline(rows) });
  });
  bot.onCallbackQuery.add(async (query) => {
    report("pressed", { data: query.dataStr, user_id: query.user.id });
    const answer = orders.answer;
    await bot.answerCallbackQuery(query, {
      text: answer.text,
      alert: answer.alert,
      url: answer.url,
      cacheTime: answer.cache_time,
    });
  });
  report("ready", { id: me.id, username: me.username, layer: LAYER });
  return bot;
}

async function runUser(orders) {
  const user = client(orders);
  const me = await user.start({ phone: orders.phone, code: () => orders.code });
  report("ready", { id: me.id, username: me.username || null, layer: LAYER });
  const inline = (message) => message && message.markup && message.markup.type === "inline";
  const pushed = new Promise((resolve) => {
    user.onNewMessage.add((message) => {
      if (inline(message)) resolve(message);
    });
  });
  // Right after login mtcute is still loading its update state: a reply that comes while it
  // does is taken into that state and never dispatched. So the history is read as well.
  let found = false;
  const inHistory = (async () => {
    while (!found) {
      const [last] = await user.getHistory(orders.bot, { limit: 1 });
      if (inline(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return null;
  })();
  await user.sendText(orders.bot, "/start");
  const message = await Promise.race([pushed, inHistory]);
  found = true;
  const rows = message.markup.buttons.map((row) =>
    row.map((button) => [button.text, Buffer.from(button.data).toString()]),
  );
  report("keyboard", { rows });
  reportAnswer(await user.getCallbackAnswer({ message, data: orders.press }));
  return user;
}

// Other drivers (everyday_mtcute.mjs) reuse the connection set-up.
export { client, trust };

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  serve(trust, { bot: runBot, user: runUser }, (client) => client.destroy());
}
