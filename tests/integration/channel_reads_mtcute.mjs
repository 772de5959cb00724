// mtcute (npm `@mtcute/node`, layer 227) as a channel's subscriber and as a supergroup
// member who reconnects, for tests/integration/test_channels_js_reads.py: the orders and
// reports of channel_reads_gramjs.js, through mtcute's API (its own methods, and `call`
// for the two differences).
import fs from "node:fs";
import common from "./peer_common.cjs";
import { client, trust } from "./mtcute_peer.mjs";

const { report, reportAnswer, serve } = common;
const { LAYER } = await import(new URL("tl/inner-tl.js", import.meta.resolve("@mtcute/core")).href);

const pause = () => new Promise((resolve) => setTimeout(resolve, 50));

async function login(user, orders) {
  const me = await user.start({ phone: orders.phone, code: () => orders.code });
  report("ready", { id: me.id, username: null, layer: LAYER });
  await user.joinChat(orders.channel);
  return orders.channel; // mtcute names a public chat by its username
}

async function runSubscriber(orders) {
  const user = client(orders);
  const channel = await login(user, orders);
  const inline = (message) => message && message.markup && message.markup.type === "inline";
  let post = null;
  while (!post) {
    const [last] = await user.getHistory(channel, { limit: 1 });
    if (inline(last)) post = last;
    else await pause();
  }
  const rows = post.markup.buttons.map((row) =>
    row.map((button) => [button.text, Buffer.from(button.data).toString()]),
  );
  report("keyboard", { msg_id: post.id, rows });
  const [button] = post.markup.buttons[0];
  reportAnswer(await user.getCallbackAnswer({ message: post, data: button.data }));
  return user;
}

async function runReader(orders) {
  const user = client(orders);
  const channel = await login(user, orders);
  // The newest message is the reader's own joining: "before" is among the last few.
  while (!(await user.getHistory(channel, { limit: 5 })).some((m) => m.text === "before")) {
    await pause();
  }
  const input = await user.resolveChannel(channel);
  const full = await user.call({ _: "channels.getFullChannel", channel: input });
  const pts = full.fullChat.pts;
  const state = await user.call({ _: "updates.getState" });
  // Offline for updates: mtcute 0.30.3's disconnect() does not return here, so the reader
  // stops taking updates instead; what the server pushes meanwhile is dropped.
  await user.stopUpdatesLoop();
  report("offline", {});
  while (!fs.existsSync(orders.go)) await pause();
  const diff = await user.call({
    _: "updates.getDifference",
    pts: state.pts,
    date: state.date,
    qts: state.qts,
  });
  const tooLong = (diff.otherUpdates || [])
    .filter((update) => update._ === "updateChannelTooLong")
    .map((update) => update.channelId);
  const missed = await user.call({
    _: "updates.getChannelDifference",
    channel: input,
    filter: { _: "channelMessagesFilterEmpty" },
    pts,
    limit: 100,
  });
  report("caught", { too_long: tooLong, texts: missed.newMessages.map((m) => m.message) });
  return user;
}

async function runDeleter(orders) {
  const user = client(orders);
  const channel = await login(user, orders);
  const sent = await user.sendText(channel, "oops");
  await user.deleteMessagesById(channel, [sent.id], { revoke: true });
  report("deleted", { id: sent.id });
  return user;
}

serve(
  trust,
  { subscriber: runSubscriber, reader: runReader, deleter: runDeleter },
  (c) => c.destroy(),
);
