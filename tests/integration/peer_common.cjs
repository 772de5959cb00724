// What the JavaScript peers of tests/integration/test_js_peers.py share: the report lines on
// stdout and the orders on stdin (see gramjs_peer.js for both formats).
"use strict";

const readline = require("readline");

function report(event, fields) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function fail(error) {
  report("error", { error: String(error && error.stack ? error.stack : error) });
  process.exit(1);
}

// The user's report of a messages.botCallbackAnswer, in either library's field names.
function reportAnswer(answer) {
  report("answer", {
    message: answer.message,
    alert: Boolean(answer.alert),
    url: answer.url,
    has_url: Boolean(answer.hasUrl),
    cache_time: answer.cacheTime,
  });
}

// Reads the orders, runs `roles[orders.role](orders)` (which resolves to the client), and
// on stdin's end `stop(client)`, then exits.
function serve(trust, roles, stop) {
  const lines = readline.createInterface({ input: process.stdin });
  let running = null;
  lines.once("line", (line) => {
    const orders = JSON.parse(line);
    trust(orders.pem, orders.fingerprint);
    running = roles[orders.role](orders).catch(fail);
  });
  lines.once("close", async () => {
    const active = running && (await running.catch(() => null));
    if (active) await stop(active).catch(() => null);
    process.exit(0);
  });
}

module.exports = { fail, report, reportAnswer, serve };
