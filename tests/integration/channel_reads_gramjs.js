// GramJS (npm `telegram`, layer 198) as a channel's subscriber and as a supergroup member
// who reconnects, for tests/integration/test_channels_js_reads.py. The connection set-up
// is gramjs_peer.js's; orders and reports as there, plus:
//   "channel": the public channel's or supergroup's username;
//   role "subscriber": joins, presses the newest post's first button
//     {"event": "ready", ...}  {"event": "keyboard", "rows", "msg_id"}  {"event": "answer", ...}
//   role "reader": joins, waits for "before" in the history, disconnects; once the file
//     "go" exists reconnects and catches up with getDifference, then getChannelDifference
//     from the channel's pts it had
//     {"event": "ready", ...}  {"event": "offline"}
//     {"event": "caught", "too_long": [channel ids], "texts": [...]}
//   role "deleter": joins, says "oops" and deletes it for everyone
//     {"event": "ready", ...}  {"event": "deleted", "id"}
"use strict";

const fs = require("fs");
const { Api } = require("telegram");
const { startUser, trust } = require("./gramjs_peer.js");
const { report, reportAnswer, serve } = require("./peer_common.cjs");

const pause = () => new Promise((resolve) => setTimeout(resolve, 50));

async function login(orders) {
  const [user] = await startUser(orders);
  const joined = await user.invoke(new Api.channels.JoinChannel({ channel: orders.channel }));
  return [user, joined.chats[0]];
}

async function runSubscriber(orders) {
  const [user, channel] = await login(orders);
  let post = null;
  while (!post) {
    const [last] = await user.getMessages(channel, { limit: 1 });
    if (last && last.replyMarkup) post = last;
    else await pause();
  }
  report("keyboard", {
    msg_id: post.id,
    rows: post.replyMarkup.rows.map((row) =>
      row.buttons.map((button) => [button.text, Buffer.from(button.data).toString()]),
    ),
  });
  const [button] = post.replyMarkup.rows[0].buttons;
  reportAnswer(
    await user.invoke(
      new Api.messages.GetBotCallbackAnswer({ peer: channel, msgId: post.id, data: button.data }),
    ),
  );
  return user;
}

async function runReader(orders) {
  const [user, channel] = await login(orders);
  // The newest message is the reader's own joining: "before" is among the last few.
  while (!(await user.getMessages(channel, { limit: 5 })).some((m) => m.message === "before")) {
    await pause();
  }
  const full = await user.invoke(new Api.channels.GetFullChannel({ channel }));
  const pts = full.fullChat.pts;
  const state = await user.invoke(new Api.updates.GetState());
  await user.disconnect();
  report("offline", {});
  while (!fs.existsSync(orders.go)) await pause();
  await user.connect();
  const diff = await user.invoke(
    new Api.updates.GetDifference({ pts: state.pts, date: state.date, qts: state.qts }),
  );
  const tooLong = (diff.otherUpdates || [])
    .filter((update) => update instanceof Api.UpdateChannelTooLong)
    .map((update) => Number(update.channelId));
  const missed = await user.invoke(
    new Api.updates.GetChannelDifference({
      channel,
      filter: new Api.ChannelMessagesFilterEmpty(),
      pts,
      limit: 100,
    }),
  );
  report("caught", { too_long: tooLong, texts: missed.newMessages.map((m) => m.message) });
  return user;
}

async function runDeleter(orders) {
  const [user, channel] = await login(orders);
  const sent = await user.sendMessage(channel, { message: "oops" });
  await user.deleteMessages(channel, [sent.id], { revoke: true });
  report("deleted", { id: sent.id });
  return user;
}

serve(
  trust,
  { subscriber: runSubscriber, reader: runReader, deleter: runDeleter },
  (c) => c.disconnect(),
);
