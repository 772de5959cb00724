// mtcute (npm `@mtcute/node`, layer 227) around a chat, for
// tests/integration/test_everyday_methods.py: the same orders and reports as
// everyday_gramjs.js, through mtcute's own API (the connection set-up is mtcute_peer.mjs's).
import common from "./peer_common.cjs";
import { client, trust } from "./mtcute_peer.mjs";

const { report, serve } = common;
const { LAYER } = await import(new URL("tl/inner-tl.js", import.meta.resolve("@mtcute/core")).href);

const commandPairs = (list) => list.map((c) => [c.command, c.description]);

async function runBot(orders) {
  const bot = client(orders);
  const me = await bot.start({ botToken: orders.token });
  await bot.setMyCommands({
    commands: [
      { _: "botCommand", command: "start", description: "Start" },
      { _: "botCommand", command: "help", description: "Help" },
    ],
  });
  bot.onNewMessage.add(async (message) => {
    if (!message.text.startsWith("/start")) return;
    await bot.sendText(message.chat.id, "one");
    await bot.sendText(message.chat.id, "two");
  });
  report("ready", { id: me.id, username: me.username, layer: LAYER });
  report("commands", { commands: commandPairs(await bot.getMyCommands()) });
  return bot;
}

async function runUser(orders) {
  const user = client(orders);
  const me = await user.start({ phone: orders.phone, code: () => orders.code });
  report("ready", { id: me.id, username: null, layer: LAYER });
  await user.sendText(orders.bot, "/start");
  // Read from the history: right after login mtcute may not dispatch what arrives (see
  // mtcute_peer.mjs).
  let two = null;
  while (!two) {
    const [last] = await user.getHistory(orders.bot, { limit: 1 });
    if (last && last.text === "two") two = last;
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const dialogs = [];
  for await (const dialog of user.iterDialogs({ limit: 10 })) {
    dialogs.push({
      id: dialog.peer.id,
      unread: dialog.unreadCount,
      top: dialog.lastMessage ? dialog.lastMessage.text : null,
    });
  }
  report("dialogs", { dialogs });

  const imported = await user.importContacts([
    { phone: orders.friend_phone, firstName: "Pal", lastName: "" },
  ]);
  const friendId = Number(imported.imported[0].userId);
  report("imported", { ids: imported.imported.map((i) => Number(i.userId)) });

  const [forwarded] = await user.forwardMessagesById({
    fromChatId: orders.bot,
    messages: [two.id],
    toChatId: friendId,
  });
  const from = forwarded.raw.fwdFrom ? forwarded.raw.fwdFrom.fromId : null;
  report("forwarded", { text: forwarded.text, fwd_from_id: from ? from.userId : null });

  const full = await user.call({ _: "users.getFullUser", id: await user.resolveUser(orders.bot) });
  report("bot_commands", { commands: commandPairs(full.fullUser.botInfo.commands) });
  return user;
}

serve(trust, { bot: runBot, user: runUser }, (c) => c.destroy());
