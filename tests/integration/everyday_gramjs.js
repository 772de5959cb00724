// GramJS (npm `telegram`, layer 198) around a chat, for tests/integration/test_everyday_methods.py:
// the everyday methods through GramJS's own API. Orders and reports as in gramjs_peer.js
// (whose connection set-up it reuses):
//   bot:  "token"; sets its commands at start-up, answers "/start" with "one" and "two"
//     {"event": "ready", "id", "username", "layer"}   {"event": "commands", "commands"}
//   user: "phone", "code", "bot" (username), "friend_phone"; says /start, waits for "two",
//     then lists its dialogs, imports the friend, forwards the bot's "two" to the friend and
//     reads the bot's commands from getFullUser
//     {"event": "dialogs", "dialogs": [{"id", "unread", "top"}]}
//     {"event": "imported", "ids"}   {"event": "forwarded", "text", "fwd_from_id"}
//     {"event": "bot_commands", "commands"}
"use strict";

const bigInt = require("big-integer");
const { Api } = require("telegram");
const { NewMessage } = require("telegram/events");
const { LAYER } = require("telegram/tl/AllTLObjects");
const { client, trust } = require("./gramjs_peer.js");
const { report, serve } = require("./peer_common.cjs");

const commandPairs = (list) => list.map((c) => [c.command, c.description]);

async function runBot(orders) {
  const bot = client(orders);
  await bot.start({ botAuthToken: orders.token });
  const commands = [
    new Api.BotCommand({ command: "start", description: "Start" }),
    new Api.BotCommand({ command: "help", description: "Help" }),
  ];
  await bot.invoke(
    new Api.bots.SetBotCommands({ scope: new Api.BotCommandScopeDefault(), langCode: "", commands }),
  );
  bot.addEventHandler(async (event) => {
    await bot.sendMessage(event.message.peerId, { message: "one" });
    await bot.sendMessage(event.message.peerId, { message: "two" });
  }, new NewMessage({ incoming: true, pattern: /^\/start/ }));
  const me = await bot.getMe();
  report("ready", { id: Number(me.id), username: me.username, layer: LAYER });
  const got = await bot.invoke(
    new Api.bots.GetBotCommands({ scope: new Api.BotCommandScopeDefault(), langCode: "" }),
  );
  report("commands", { commands: commandPairs(got) });
  return bot;
}

async function runUser(orders) {
  const user = client(orders);
  await user.start({
    phoneNumber: orders.phone,
    phoneCode: async () => orders.code,
    onError: (error) => {
      throw error;
    },
  });
  const me = await user.getMe();
  report("ready", { id: Number(me.id), username: null, layer: LAYER });
  const second = new Promise((resolve) => {
    user.addEventHandler((event) => {
      if (event.message.message === "two") resolve(event.message);
    }, new NewMessage({ incoming: true }));
  });
  await user.sendMessage(orders.bot, { message: "/start" });
  const two = await second;

  const dialogs = await user.getDialogs({ limit: 10 });
  report("dialogs", {
    dialogs: dialogs.map((d) => ({
      id: Number(d.entity.id),
      unread: d.unreadCount,
      top: d.message ? d.message.message : null,
    })),
  });

  const imported = await user.invoke(
    new Api.contacts.ImportContacts({
      contacts: [
        new Api.InputPhoneContact({
          clientId: bigInt(1),
          phone: orders.friend_phone,
          firstName: "Pal",
          lastName: "",
        }),
      ],
    }),
  );
  report("imported", { ids: imported.imported.map((i) => Number(i.userId)) });

  // One list of messages per chunk of the source chat.
  const [forwarded] = (
    await user.forwardMessages(imported.users[0], { messages: [two.id], fromPeer: orders.bot })
  ).flat();
  report("forwarded", {
    text: forwarded.message,
    fwd_from_id: forwarded.fwdFrom ? Number(forwarded.fwdFrom.fromId.userId) : null,
  });

  const full = await user.invoke(new Api.users.GetFullUser({ id: orders.bot }));
  report("bot_commands", { commands: commandPairs(full.fullUser.botInfo.commands) });
  return user;
}

serve(trust, { bot: runBot, user: runUser }, (c) => c.disconnect());
