// A grammY bot for tests/botapi/test_grammy.py: replies to /start with an inline keyboard
// and answers the press with an alert, its deep link and a cache time. Runs until stdin
// closes, then stops (grammY confirms what it fetched) and exits.
"use strict";
const { Bot, InlineKeyboard } = require("grammy");

const [apiRoot, token, deepLink] = process.argv.slice(2);
const bot = new Bot(token, { client: { apiRoot } });

bot.command("start", (ctx) =>
  ctx.reply("pick one", { reply_markup: new InlineKeyboard().text("Buy", "buy") }),
);
bot.callbackQuery("buy", async (ctx) => {
  const answered = await ctx.answerCallbackQuery({
    text: "Added to cart",
    show_alert: true,
    url: deepLink,
    cache_time: 120,
  });
  console.log(JSON.stringify({ answered, chat_instance: ctx.callbackQuery.chat_instance }));
});
bot.catch((err) => {
  console.log(JSON.stringify({ error: String(err.error || err) }));
});

bot.start({
  timeout: 1,
  onStart: (me) => console.log(JSON.stringify({ ready: me.username })),
});
process.stdin.on("end", async () => {
  await bot.stop();
  process.exit(0);
});
process.stdin.resume();
