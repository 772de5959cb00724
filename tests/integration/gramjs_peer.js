// A GramJS (npm `telegram`, API layer 198) bot or user for tests/integration/test_js_peers.py.
//
// Reads its orders as one JSON object on the first line of stdin:
//   {"role": "bot" | "user", "host", "port", "pem", "fingerprint" (a decimal string),
//    bot:  "token", "keyboard" (rows of [label, data]), "answer" {text, alert, url, cache_time}
//    either, optional: "session": "memory" for a MemorySession (default: an empty
//          StringSession); bot, optional: "get_me_first" (connect, ask getMe and start()
//          at once: users.getUsers and updates.getState travel together before login, and
//          both come back 401)
//    user: "phone", "code", "bot" (the bot's username), "press" (the data to press)}
// and reports JSON lines on stdout:
//   {"event": "ready", "id", "username", "layer", "version"}       once logged in
//     (bot with "get_me_first": also "early_get_me", how that getMe ended)
//   {"event": "pressed", "data", "user_id"}                        bot: a press arrived
//   {"event": "keyboard", "rows"}                                   user: the bot's keyboard
//   {"event": "answer", "message", "alert", "url", "has_url", "cache_time"}   user
//   {"event": "error", "error"}                                     anything went wrong
// It runs until stdin closes.
"use strict";

const crypto = require("crypto");
const bigInt = require("big-integer");
const { TelegramClient, Api, version } = require("telegram");
const { MemorySession, StringSession } = require("telegram/sessions");
const { NewMessage } = require("telegram/events");
const { CallbackQuery } = require("telegram/events/CallbackQuery");
const { ConnectionTCPFull } = require("telegram/network");
const { Logger, LogLevel } = require("telegram/extensions/Logger");
const { LAYER } = require("telegram/tl/AllTLObjects");
const RSA = require("telegram/crypto/RSA");
const { report, reportAnswer, serve } = require("./peer_common.cjs");

function trust(pem, fingerprint) {
  // GramJS knows Telegram's keys only; the server's goes into the same table, under the
  // fingerprint as GramJS prints it (a signed 64-bit decimal, never a JS number).
  const jwk = crypto.createPublicKey(pem).export({ format: "jwk" });
  const big = (b64url) => bigInt(Buffer.from(b64url, "base64url").toString("hex"), 16);
  RSA._serverKeys.set(bigInt(fingerprint).toString(), { n: big(jwk.n), e: big(jwk.e).toJSNumber() });
}

function client(orders) {
  // GramJS dials port 80 (443 with WSS) whatever the session says: the connection class is
  // where the server's port goes.
  class ToServer extends ConnectionTCPFull {
    constructor(options) {
      super({ ...options, port: orders.port });
    }
  }
  const session = orders.session === "memory" ? new MemorySession() : new StringSession("");
  const made = new TelegramClient(session, 1, "loopgram", {
    connection: ToServer,
    useWSS: false,
    connectionRetries: 3,
    baseLogger: new Logger(LogLevel.NONE),
  });
  made.session.setDC(2, orders.host, orders.port);
  return made;
}

async function runBot(orders) {
  const bot = client(orders);
  const handle = () => {
    bot.addEventHandler(async (event) => {
      const rows = orders.keyboard.map(
        (row) => new Api.KeyboardButtonRow({
          buttons: row.map(([text, data]) => new Api.KeyboardButtonCallback({ text, data: Buffer.from(data) })),
        }),
      );
      await bot.sendMessage(event.message.peerId, {
        message: "pick one",
        buttons: new Api.ReplyInlineMarkup({ rows }),
      });
    }, new NewMessage({ incoming: true, pattern: /^\/start/ }));
    bot.addEventHandler(async (event) => {
      report("pressed", { data: event.data.toString(), user_id: Number(event.query.userId) });
      const answer = orders.answer;
      await event.answer({
        message: answer.text,
        alert: answer.alert,
        url: answer.url,
        cacheTime: answer.cache_time,
      });
    }, new CallbackQuery({}));
  };
  let early = null;
  if (orders.get_me_first) {
    // What GramJS does by itself when an update arrives before login (its event dispatch
    // asks getMe), made certain: users.getUsers goes out together with start()'s
    // updates.getState, and both are answered 401 before login. Either answer lost hangs
    // one of the two: start(), or this getMe.
    await bot.connect();
    early = bot.getMe().then(
      () => "ok",
      (error) => error.errorMessage || String(error),
    );
  }
  await bot.start({ botAuthToken: orders.token });
  handle();
  const me = await bot.getMe();
  const extra = early ? { early_get_me: await early } : {};
  report("ready", { id: Number(me.id), username: me.username, layer: LAYER, version, ...extra });
  return bot;
}

// A user logged in with the orders' phone and code, its "ready" reported: [client, me].
async function startUser(orders) {
  const user = client(orders);
  await user.start({
    phoneNumber: orders.phone,
    phoneCode: async () => orders.code,
    onError: (error) => {
      throw error;
    },
  });
  const me = await user.getMe();
  report("ready", { id: Number(me.id), username: me.username || null, layer: LAYER, version });
  return [user, me];
}

async function runUser(orders) {
  const [user] = await startUser(orders);
  const keyboard = new Promise((resolve) => {
    user.addEventHandler((event) => {
      if (event.message.replyMarkup) resolve(event.message);
    }, new NewMessage({ incoming: true }));
  });
  await user.sendMessage(orders.bot, { message: "/start" });
  const message = await keyboard;
  const rows = message.replyMarkup.rows.map((row) =>
    row.buttons.map((button) => [button.text, Buffer.from(button.data).toString()]),
  );
  report("keyboard", { rows });
  reportAnswer(await message.click({ data: Buffer.from(orders.press) }));
  return user;
}

// Other drivers (everyday_gramjs.js) reuse the connection set-up.
module.exports = { client, startUser, trust };

if (require.main === module) {
  serve(trust, { bot: runBot, user: runUser }, (client) => client.disconnect());
}
