// A Telegraf bot for tests/botapi/test_telegraf.py: replies to /start (as a reply to it,
// through reply_parameters) with an inline keyboard and answers the press with an alert, its
// deep link and a cache time. Runs until stdin closes, then stops polling and exits.
"use strict";
const { Telegraf, Markup } = require("telegraf");

const [apiRoot, token, deepLink] = process.argv.slice(2);
const bot = new Telegraf(token, { telegram: { apiRoot } });

bot.start((ctx) =>
  ctx.reply("pick one", {
    ...Markup.inlineKeyboard([Markup.button.callback("Buy", "buy")]),
    reply_parameters: { message_id: ctx.message.message_id },
  }),
);
bot.action("buy", async (ctx) => {
  const answered = await ctx.answerCbQuery("Added to cart", {
    show_alert: true,
    url: deepLink,
    cache_time: 120,
  });
  const query = ctx.callbackQuery;
  console.log(
    JSON.stringify({
      answered,
      chat_instance: query.chat_instance,
      data: query.data,
      message_text: query.message.text,
      replied_text: query.message.reply_to_message && query.message.reply_to_message.text,
    }),
  );
});
bot.catch((err) => {
  console.log(JSON.stringify({ error: String(err) }));
});

bot
  .launch({}, () => console.log(JSON.stringify({ ready: bot.botInfo.username })))
  .catch((err) => {
    console.log(JSON.stringify({ error: String(err) }));
    process.exit(1);
  });
process.stdin.on("end", () => {
  bot.stop("stdin closed");
  process.exit(0);
});
process.stdin.resume();
