// mtcute (npm `@mtcute/node`, layer 227) in a supergroup, for
// tests/integration/test_channels_js.py: the same orders and reports as channels_gramjs.js,
// through mtcute's own API (the connection set-up is mtcute_peer.mjs's).
import common from "./peer_common.cjs";
import { client, trust } from "./mtcute_peer.mjs";

const { report, reportAnswer, serve } = common;
const { LAYER } = await import(new URL("tl/inner-tl.js", import.meta.resolve("@mtcute/core")).href);

async function runUser(orders) {
  const user = client(orders);
  const me = await user.start({ phone: orders.phone, code: () => orders.code });
  report("ready", { id: me.id, username: null, layer: LAYER });
  const chat = await user.createSupergroup({ title: "JS club" });
  report("created", { id: chat.id });
  await user.addChatMembers(chat.id, [orders.bot], {});
  await user.sendText(chat.id, "/start");
  const inline = (message) => message && message.markup && message.markup.type === "inline";
  let message = null;
  while (!message) {
    const [last] = await user.getHistory(chat.id, { limit: 1 });
    if (inline(last)) message = last;
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  report("keyboard", {
    msg_id: message.id,
    rows: message.markup.buttons.map((row) =>
      row.map((button) => [button.text, Buffer.from(button.data).toString()]),
    ),
  });
  reportAnswer(await user.getCallbackAnswer({ message, data: orders.press }));
  return user;
}

serve(trust, { user: runUser }, (c) => c.destroy());
