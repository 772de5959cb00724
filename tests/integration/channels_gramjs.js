// GramJS (npm `telegram`, layer 198) in a supergroup, for tests/integration/test_channels_js.py.
// Orders and reports as in gramjs_peer.js (whose connection set-up it reuses):
//   user: "phone", "code", "bot" (username), "press" (the data to press); creates a
//     supergroup, invites the bot, says /start there, presses the bot's keyboard
//     {"event": "ready", "id", "username", "layer"}   {"event": "created", "id"}
//     {"event": "keyboard", "rows", "msg_id"}   {"event": "answer", ...} (peer_common.cjs)
"use strict";

const { Api } = require("telegram");
const { LAYER } = require("telegram/tl/AllTLObjects");
const { client, trust } = require("./gramjs_peer.js");
const { report, reportAnswer, serve } = require("./peer_common.cjs");

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
  const created = await user.invoke(
    new Api.channels.CreateChannel({ title: "JS club", about: "", megagroup: true }),
  );
  const channel = created.chats[0];
  report("created", { id: Number(channel.id) });
  await user.invoke(new Api.channels.InviteToChannel({ channel, users: [orders.bot] }));
  await user.sendMessage(channel, { message: "/start" });
  let keyboard = null;
  while (!keyboard) {
    const [last] = await user.getMessages(channel, { limit: 1 });
    if (last && last.replyMarkup) keyboard = last;
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  report("keyboard", {
    msg_id: keyboard.id,
    rows: keyboard.replyMarkup.rows.map((row) =>
      row.buttons.map((button) => [button.text, Buffer.from(button.data).toString()]),
    ),
  });
  reportAnswer(
    await user.invoke(
      new Api.messages.GetBotCallbackAnswer({
        peer: channel,
        msgId: keyboard.id,
        data: Buffer.from(orders.press),
      }),
    ),
  );
  return user;
}

serve(trust, { user: runUser }, (c) => c.disconnect());
