// loopgram in the browser: one tab = one user session on the server, over a WebSocket.
// Plain JavaScript, no build step, nothing fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, props, ...children) => {
  const node = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
};

// Measurements for bench/web_bench.py: when the page became usable, and each press's
// click -> answer in the DOM, in ms (performance.now(): since navigation started).
window.loopgram = { interactiveAt: null, pressMs: [] };
const interactive = () => { if (window.loopgram.interactiveAt === null) window.loopgram.interactiveAt = performance.now(); };

const state = {
  ws: null,
  nextId: 1,
  waiting: new Map(),      // request id -> {resolve, reject}
  loginCode: "",
  me: null,
  users: new Map(),        // user id -> {id, name, username, bot}
  chats: new Map(),        // group or channel id (negative) -> {id, kind, title, members, left, admin, username}
  dialogs: new Map(),      // chat id -> {chat, top, unread}
  chat: null,              // open chat id
  messages: new Map(),     // message id -> message (open chat)
  more: false,             // older messages to load on scrolling up
  loadingOlder: false,
  usedKeyboards: new Set(), // ids of messages whose single-use reply keyboard was used
  answers: new Map(),      // "chat:msg:data" -> {answer, until} (cache_time, as the apps do)
  panelOpen: false,
  paused: false,
  held: [],
  presses: new Map(),      // query id -> list item
  toastTimer: 0,
  replyPlaceholder: null,  // the open chat's reply keyboard's placeholder
};

// -- the socket --------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/web/ws`);
  state.ws = ws;
  $("link-state").textContent = "connecting…";
  ws.addEventListener("message", (event) => onMessage(JSON.parse(event.data)));
  ws.addEventListener("close", () => {
    for (const { reject } of state.waiting.values()) reject(new RpcError(0, "DISCONNECTED"));
    state.waiting.clear();
    $("link-state").textContent = "disconnected: reload the page to connect again";
    document.body.dataset.state = "disconnected";
  });
}

class RpcError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

function rpc(op, params = {}) {
  const id = state.nextId++;
  return new Promise((resolve, reject) => {
    state.waiting.set(id, { resolve, reject });
    state.ws.send(JSON.stringify({ id, op, params }));
  });
}

function onMessage(message) {
  if (message.id !== undefined && message.id !== null) {
    const waiter = state.waiting.get(message.id);
    if (!waiter) return;
    state.waiting.delete(message.id);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new RpcError(message.error.code, message.error.message));
    return;
  }
  switch (message.type) {
    case "hello": onHello(message); break;
    case "update": rememberUsers(message.users); rememberChats(message.chats); onUpdate(message.update); renderChatHead(); break;
    case "call": onCall(message.call); break;
    case "press": onPressTimeline(message.press); break;
  }
}

async function onHello(hello) {
  state.loginCode = hello.login_code;
  $("login-code").textContent = hello.login_code;
  $("code").value = hello.login_code;
  $("link-state").textContent = "";
  if (state.panelOpen) rpc("watch", { on: true });
  // A reload keeps the tab's user: sign in again with the number it used.
  const phone = sessionStorage.getItem("loopgram.phone");
  if (phone) {
    try { await signIn({ phone, code: state.loginCode }); return; } catch (e) { /* show the form */ }
  }
  showSignIn();
}

// -- signing in --------------------------------------------------------------------------

function showSignIn() {
  document.body.dataset.state = "signed-out";
  interactive();
  $("signin").hidden = false;
  $("sidebar").hidden = $("chat").hidden = true;
  $("sign-out").hidden = true;
  $("profile-open").hidden = true;
  $("me").textContent = "";
  $("phone").focus();
}

async function signIn(params) {
  const result = await rpc("sign_in", params);
  signedIn(await withName(result.me));
}

// The name typed at sign-in (optional) becomes the user's, through account.updateProfile.
async function withName(me) {
  const name = $("signin-name").value.trim();
  if (!name) return me;
  const [first, ...rest] = name.split(/\s+/);
  const result = await rpc("profile", { first_name: first, last_name: rest.join(" ") });
  $("signin-name").value = "";
  return result.me;
}

function showMe(me) {
  state.me = me;
  state.users.set(me.id, me);
  $("me").textContent = `${me.name}${me.username ? " @" + me.username : ""} (+${me.phone})`;
}

function signedIn(me) {
  showMe(me);
  sessionStorage.setItem("loopgram.phone", "+" + me.phone);
  $("signin").hidden = true;
  $("sidebar").hidden = $("chat").hidden = false;
  $("sign-out").hidden = false;
  $("profile-open").hidden = false;
  document.body.dataset.state = "ready";
  interactive();
  loadDialogs();
  $("open-username").focus();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("signin-error").textContent = "";
  try {
    await signIn({ phone: $("phone").value.trim(), code: $("code").value.trim() });
  } catch (e) { $("signin-error").textContent = e.message; }
});

$("create-user").addEventListener("click", async () => {
  $("signin-error").textContent = "";
  try { signedIn(await withName((await rpc("create_user")).me)); } catch (e) { $("signin-error").textContent = e.message; }
});

$("sign-out").addEventListener("click", async () => {
  try { await rpc("log_out"); } catch (e) { /* signed out anyway */ }
  sessionStorage.removeItem("loopgram.phone");
  state.me = null; state.chat = null; state.dialogs.clear(); state.messages.clear();
  $("dialogs").replaceChildren(); $("messages").replaceChildren();
  showSignIn();
});

// -- dialogs ------------------------------------------------------------------------------

function rememberUsers(users) {
  for (const user of users || []) state.users.set(user.id, user);
}

function rememberChats(chats) {
  for (const chat of chats || []) state.chats.set(chat.id, chat);
}

function userName(id) {
  const user = state.users.get(id);
  if (!user) return String(id);
  return user.username ? `${user.name} (@${user.username})` : user.name;
}

// A user's plain name, as on a group message's sender line.
function shortName(id) {
  const user = state.users.get(id);
  return user ? user.name : String(id);
}

// Chat ids: a user's id, a basic group's negative id, or a supergroup's or channel's
// -(10^12 + id), as the Bot API numbers them.
const CHANNEL_SHIFT = 1e12;

function chatName(id) {
  if (id < 0) {
    const chat = state.chats.get(id);
    return chat ? chat.title : `chat ${id}`;
  }
  return userName(id);
}

function preview(message) {
  if (!message) return "";
  if (message.service) return serviceText(message);
  if (message.chat < 0 && !message.out && message.from) return `${shortName(message.from)}: ${message.text}`;
  return message.text;
}

function chatKind(id) {
  const chat = state.chats.get(id);
  if (chat) return chat.kind;
  return id <= -CHANNEL_SHIFT ? "supergroup" : "group";
}

// What this tab may do in a chat: "write"; "read" (a broadcast channel's subscriber: only
// admins post, the posts' buttons still work); "join" (a public supergroup or channel
// opened by its username); "out" (left, or removed).
function chatAccess(id) {
  const chat = id < 0 ? state.chats.get(id) : null;
  if (!chat) return "write";
  if (chat.left) return chat.username && chat.kind !== "group" ? "join" : "out";
  if (chat.kind === "channel" && !chat.admin) return "read";
  return "write";
}

const COMPOSER_HINTS = {
  write: "Message",
  read: "Only the channel's admins post here",
  join: "Join to write here",
  out: "You are not a member of this chat",
};

// The open chat's head and composer follow its state (a title changed, the tab removed or
// made admin elsewhere) without changing their size, so nothing below them moves.
function renderChatHead() {
  const id = state.chat;
  if (id === null) return;
  const access = chatAccess(id);
  $("chat-title").textContent = chatName(id);
  $("chat-kind").textContent = id < 0 ? chatKind(id) : "";
  $("chat-kind").hidden = id > 0;
  $("add-member-form").hidden = id > 0 || access !== "write";
  $("chat-manage").hidden = id > 0 || access === "join" || access === "out";
  $("chat-join").hidden = access !== "join";
  const writable = access === "write";
  $("text").disabled = $("send").disabled = !writable;
  $("text").placeholder = writable ? state.replyPlaceholder || "Message" : COMPOSER_HINTS[access];
  $("send").hidden = access === "join";
}

async function loadDialogs() {
  const result = await rpc("dialogs");
  rememberUsers(result.users);
  rememberChats(result.chats);
  state.dialogs.clear();
  for (const dialog of result.dialogs) state.dialogs.set(dialog.chat, dialog);
  renderDialogs();
}

function renderDialogs() {
  const items = [...state.dialogs.values()].sort((a, b) =>
    (b.top ? b.top.date * 1e6 + b.top.id : 0) - (a.top ? a.top.date * 1e6 + a.top.id : 0));
  $("dialogs").replaceChildren(...items.map((dialog) => el("li", null,
    el("button", {
      type: "button", "aria-current": dialog.chat === state.chat ? "true" : "false",
      dataset: { chat: dialog.chat }, onclick: () => openChat(dialog.chat),
    },
      el("span", { class: "name" }, dialog.chat < 0 ? el("span", { class: "group-mark" }, chatKind(dialog.chat)) : null, chatName(dialog.chat)),
      dialog.unread && dialog.chat !== state.chat ? el("span", { class: "unread" }, String(dialog.unread)) : el("span"),
      el("span", { class: "preview" }, preview(dialog.top))))));
}

$("open-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("open-error").textContent = "";
  try {
    const result = await rpc("resolve", { username: $("open-username").value.trim() });
    rememberUsers(result.users);
    rememberChats(result.chats);
    $("open-username").value = "";
    await openChat(result.chat);
  } catch (e) { $("open-error").textContent = e.message; }
});

// -- the chat -----------------------------------------------------------------------------

async function openChat(chat) {
  state.chat = chat;
  state.messages.clear();
  state.replyPlaceholder = null;
  $("messages").replaceChildren();
  renderChatHead();
  const dialog = state.dialogs.get(chat);
  if (dialog) dialog.unread = 0;
  renderDialogs();
  const result = await rpc("history", { chat });
  if (state.chat !== chat) return;
  rememberUsers(result.users);
  rememberChats(result.chats);
  for (const message of result.messages) state.messages.set(message.id, message);
  state.more = result.more;
  $("messages").replaceChildren(...result.messages.map(renderMessage));
  renderReplyKeyboard();
  renderChatHead();
  scrollToEnd(true);
  if (!$("text").disabled) $("text").focus();
  else if (!$("chat-join").hidden) $("chat-join").focus();
}

// Older messages load as the list is scrolled up, the visible ones staying where they are.
async function loadOlder() {
  if (!state.more || state.loadingOlder || state.chat === null || !state.messages.size) return;
  state.loadingOlder = true;
  const chat = state.chat;
  try {
    const oldest = Math.min(...state.messages.keys());
    const result = await rpc("history", { chat, offset_id: oldest });
    if (state.chat !== chat) return;
    rememberUsers(result.users);
    const fresh = result.messages.filter((m) => !state.messages.has(m.id));
    for (const message of fresh) state.messages.set(message.id, message);
    state.more = result.more && fresh.length > 0;
    const list = $("messages");
    const before = list.scrollHeight;
    list.prepend(...fresh.map(renderMessage));
    list.scrollTop += list.scrollHeight - before;
  } finally {
    state.loadingOlder = false;
  }
}

$("messages").addEventListener("scroll", () => {
  if ($("messages").scrollTop < 400) loadOlder();
}, { passive: true });

function scrollToEnd(force) {
  const list = $("messages");
  if (force || list.scrollHeight - list.scrollTop - list.clientHeight < 80) list.scrollTop = list.scrollHeight;
}

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim() || state.chat === null) return;
  $("text").value = "";
  await send(text);
});

async function send(text) {
  try {
    const result = await rpc("send", { chat: state.chat, text });
    if (result.message) onUpdate({ type: "message", message: result.message });
  } catch (e) { toast(`Not sent: ${e.message}`); }
}

function onUpdate(update) {
  if (update.type === "user") { onUserRenamed(update.user); return; }
  if (update.type === "chat") {
    // Joined, invited, removed or made admin: the chat itself came with the update.
    if (!state.dialogs.has(update.chat)) state.dialogs.set(update.chat, { chat: update.chat, top: null, unread: 0 });
    renderDialogs();
    return;
  }
  if (update.type === "delete") {
    // A channel's message ids are its own: its deletions name it; the others are of the
    // user's one box of private chats and basic groups.
    if (update.chat !== undefined ? update.chat !== state.chat : state.chat <= -CHANNEL_SHIFT) return;
    for (const id of update.ids) {
      if (state.messages.delete(id)) document.querySelector(`#messages [data-id="${id}"]`)?.remove();
    }
    renderReplyKeyboard();
    return;
  }
  const message = update.message;
  const dialog = state.dialogs.get(message.chat) || { chat: message.chat, top: null, unread: 0 };
  if (!dialog.top || dialog.top.id <= message.id) dialog.top = message;
  if (update.type === "message" && !message.out && message.chat !== state.chat) dialog.unread += 1;
  state.dialogs.set(message.chat, dialog);
  renderDialogs();
  if (message.chat !== state.chat) return;
  renderChatHead();  // a group's new title, or the tab removed from it
  const old = document.querySelector(`#messages [data-id="${message.id}"]`);
  state.messages.set(message.id, message);
  if (old) {
    old.replaceWith(renderMessage(message));
  } else if (update.type === "message") {
    $("messages").append(renderMessage(message));
    scrollToEnd(message.out);
  }
  renderReplyKeyboard();
}

function serviceText(message) {
  const s = message.service;
  // A broadcast channel's service messages speak for the channel, as its posts do.
  if (!message.from) {
    switch (s.kind) {
      case "create": return `Channel «${s.title}» created`;
      case "title": return `Channel name was changed to «${s.title}»`;
      default: return s.name || s.kind;
    }
  }
  const who = message.out ? "You" : shortName(message.from);
  const names = (s.users || []).map((id) => (state.me && id === state.me.id ? "you" : shortName(id))).join(", ");
  const self = s.users && s.users.length === 1 && s.users[0] === message.from;
  switch (s.kind) {
    case "create": return `${who} created the group «${s.title}»`;
    case "add": return self ? `${who} joined the group` : `${who} added ${names}`;
    case "remove": return self ? `${who} left the group` : `${who} removed ${names}`;
    case "title": return `${who} changed the group name to «${s.title}»`;
    case "join": return `${who} joined the group by link`;
    case "migrate": return `The group «${s.title}» became a supergroup`;
    default: return `${who}: ${s.name}`;
  }
}

// A renamed user (updateUserName): every place that shows the name follows.
function onUserRenamed(user) {
  const known = state.users.get(user.id) || { id: user.id, bot: false };
  state.users.set(user.id, { ...known, name: user.name, username: user.username });
  if (state.me && state.me.id === user.id) showMe({ ...state.me, name: user.name, username: user.username });
  for (const node of document.querySelectorAll(`#messages .sender[data-user="${user.id}"]`)) node.textContent = user.name;
  for (const message of state.messages.values()) {
    if (message.service) document.querySelector(`#messages [data-id="${message.id}"] .bubble`)?.replaceChildren(serviceText(message));
  }
  if (state.chat !== null) $("chat-title").textContent = chatName(state.chat);
  renderDialogs();
}

function renderMessage(message) {
  if (message.service) {
    return el("li", { class: "msg service", dataset: { id: message.id } },
      el("div", { class: "bubble" }, serviceText(message)));
  }
  const sender = message.chat < 0 && !message.out && message.from
    ? el("div", { class: "sender", dataset: { user: message.from } }, shortName(message.from)) : null;
  const item = el("li", { class: message.out ? "msg out" : "msg in", dataset: { id: message.id } },
    el("div", { class: "bubble" }, sender, ...renderText(message.text, message.entities)),
    el("div", { class: "meta" }, (message.edit_date ? "edited " : "") + time(message.edit_date || message.date)));
  if (message.markup && message.markup.kind === "inline") item.append(renderInlineKeyboard(message));
  return item;
}

function time(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

const SAFE_URL = /^(https?:|mailto:|tg:)/i;

function entityNode(entity, text, content) {
  switch (entity.type) {
    case "bold": return el("strong", null, content);
    case "italic": return el("em", null, content);
    case "underline": return el("u", null, content);
    case "strike": return el("s", null, content);
    case "spoiler": return el("span", { class: "spoiler", tabindex: "0" }, content);
    case "code": return el("code", null, content);
    case "pre": return el("pre", null, el("code", null, content));
    case "blockquote": return el("blockquote", null, content);
    case "url": {
      const href = /^[a-z]+:/i.test(text) ? text : `https://${text}`;
      return SAFE_URL.test(href) ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, content) : content;
    }
    case "text_url":
      return SAFE_URL.test(entity.url || "")
        ? el("a", { href: entity.url, target: "_blank", rel: "noopener noreferrer", title: entity.url }, content)
        : content;
    case "email": return el("a", { href: `mailto:${text}` }, content);
    default: return el("span", { class: `entity-${entity.type}` }, content);
  }
}

// Entities may nest: cut the text at every boundary and wrap each piece in the entities
// covering it (offsets are UTF-16 code units, as JavaScript strings index).
function renderText(text, entities) {
  if (!entities || !entities.length) return [text];
  const cuts = new Set([0, text.length]);
  for (const e of entities) { cuts.add(e.offset); cuts.add(Math.min(text.length, e.offset + e.length)); }
  const points = [...cuts].filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [start, end] = [points[i], points[i + 1]];
    let node = document.createTextNode(text.slice(start, end));
    for (const e of entities) {
      if (e.offset <= start && e.offset + e.length >= end) {
        node = entityNode(e, text.slice(e.offset, e.offset + e.length), node);
      }
    }
    out.push(node);
  }
  return out;
}

function renderInlineKeyboard(message) {
  return el("div", { class: "keyboard", role: "group", "aria-label": "Inline keyboard" },
    ...message.markup.rows.map((row) => el("div", { class: "kb-row" },
      ...row.map((button) => inlineButton(message, button)))));
}

function inlineButton(message, button) {
  const node = el("button", { type: "button", class: button.kind, title: button.url || button.text }, button.text);
  if (button.kind === "callback") node.addEventListener("click", () => press(message, button, node));
  else if (button.kind === "url") node.addEventListener("click", () => confirmUrl(button.url));
  else if (button.kind === "switch_inline") {
    node.addEventListener("click", () => {
      const bot = state.users.get(message.via_bot || message.from);
      $("text").value = `@${bot && bot.username ? bot.username : ""} ${button.query || ""}`;
      $("text").focus();
    });
  } else if (button.kind === "copy") {
    node.addEventListener("click", () => { navigator.clipboard?.writeText(button.copy); toast("Copied"); });
  } else {
    node.disabled = true;
  }
  return node;
}

function renderReplyKeyboard() {
  const box = $("reply-keyboard");
  // The newest message from the other side that carries a reply keyboard (or removes it).
  let source = null;
  for (const id of [...state.messages.keys()].sort((a, b) => b - a)) {
    const m = state.messages.get(id);
    if (!m.out && m.markup && (m.markup.kind === "reply" || m.markup.kind === "hide")) { source = m; break; }
  }
  const markup = source ? source.markup : null;
  if (!markup || markup.kind !== "reply" || state.usedKeyboards.has(source.id)) {
    box.hidden = true;
    box.replaceChildren();
    state.replyPlaceholder = null;
    if (!$("text").disabled) $("text").placeholder = "Message";
    return;
  }
  state.replyPlaceholder = markup.placeholder || null;
  if (!$("text").disabled) $("text").placeholder = markup.placeholder || "Message";
  box.replaceChildren(...markup.rows.map((row) => el("div", { class: "kb-row" },
    ...row.map((button) => el("button", {
      type: "button",
      onclick: () => {
        // single_use: the apps hide it once used (it comes back with the next keyboard).
        if (markup.single_use) state.usedKeyboards.add(source.id);
        send(button.text);
        renderReplyKeyboard();
      },
    }, button.text)))));
  box.hidden = false;
}

// -- inline mode --------------------------------------------------------------------------

const INLINE = /^@([A-Za-z][A-Za-z0-9_]{3,31}) (.*)$/s;
let inlineTimer = 0;
let inlineAsked = 0;

$("text").addEventListener("input", () => {
  clearTimeout(inlineTimer);
  const match = INLINE.exec($("text").value);
  if (!match || state.chat === null) { $("inline-results").hidden = true; return; }
  inlineTimer = setTimeout(() => askInline(match[1], match[2]), 250);
});

async function askInline(bot, query) {
  const asked = ++inlineAsked;
  const chat = state.chat;
  const list = $("inline-results");
  try {
    const found = await rpc("inline", { chat, bot, query });
    if (asked !== inlineAsked || chat !== state.chat) return;  // a newer query is on its way
    list.replaceChildren(...found.results.map((item) => el("li", null,
      el("button", { type: "button", onclick: () => sendInline(chat, found.query_id, item.id) },
        el("span", { class: "title" }, item.title || item.text || item.id),
        item.description ? el("span", { class: "desc" }, item.description) : null))));
    list.hidden = !found.results.length;
  } catch (e) {
    if (asked === inlineAsked) list.hidden = true;
  }
}

async function sendInline(chat, queryId, id) {
  $("inline-results").hidden = true;
  $("text").value = "";
  inlineAsked++;
  try {
    const result = await rpc("send_inline", { chat, query_id: queryId, id });
    if (result.message) onUpdate({ type: "message", message: result.message });
  } catch (e) { toast(`Not sent: ${e.message}`); }
  $("text").focus();
}

// -- callback buttons -----------------------------------------------------------------------

async function press(message, button, node) {
  if (node.classList.contains("busy")) return;
  const started = performance.now();
  const key = `${message.chat}:${message.id}:${button.data}`;
  // The bot asked: the one the message was sent via, or its sender (in a group, or a
  // private chat's other side).
  const bot = message.via_bot || (message.chat < 0 ? message.from : message.chat);
  const cached = state.answers.get(key);
  if (cached && cached.until > Date.now()) {
    // As Telegram's apps do: within cache_time the answer is shown again, the bot not asked.
    showAnswer(cached.answer);
    addPress({ cached: true, bot_name: bot ? userName(bot) : chatName(message.chat), msg_id: message.id,
               shown_ms: performance.now() - started, user: state.me ? state.me.name : "" });
    return;
  }
  node.classList.add("busy");
  node.setAttribute("aria-busy", "true");
  try {
    const answer = await rpc("press", { chat: message.chat, msg_id: message.id, data: button.data, bot });
    if (answer.cache_time > 0) state.answers.set(key, { answer, until: Date.now() + answer.cache_time * 1000 });
    showAnswer(answer);
    const shown = performance.now() - started;
    window.loopgram.pressMs.push(shown);
    if (answer.timeline && answer.timeline.query_id) shownAt(answer.timeline.query_id, shown);
  } catch (e) {
    if (e.message === "BOT_RESPONSE_TIMEOUT") toast("The bot did not answer in time (BOT_RESPONSE_TIMEOUT)");
    else toast(`Error: ${e.message}`);
  } finally {
    node.classList.remove("busy");
    node.removeAttribute("aria-busy");
  }
}

function linkTo(url) {
  return SAFE_URL.test(url) ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url) : url;
}

function showAnswer(answer) {
  if (answer.alert && answer.message) {
    $("alert-text").textContent = answer.message;
    const link = $("alert-link");
    link.hidden = !answer.url;
    link.replaceChildren(...(answer.url ? ["Open link: ", linkTo(answer.url)] : []));
    $("alert").showModal();
    return;
  }
  if (answer.message || answer.url) {
    toast(answer.message || "", answer.url);
  }
}

function toast(text, url) {
  const box = $("toast");
  box.replaceChildren(text);
  if (url) box.append(text ? " " : "", "Open link: ", linkTo(url));
  box.hidden = false;
  clearTimeout(state.toastTimer);
  state.toastTimer = setTimeout(() => { box.hidden = true; }, url ? 8000 : 3000);
}

function confirmUrl(url) {
  $("confirm-target").textContent = url;
  const open = $("confirm-open");
  if (SAFE_URL.test(url)) { open.href = url; open.hidden = false; } else { open.removeAttribute("href"); open.hidden = true; }
  $("confirm-url").showModal();
}
$("confirm-open").addEventListener("click", () => $("confirm-url").close("open"));

// -- profile -------------------------------------------------------------------------------

$("profile-open").addEventListener("click", () => {
  const me = state.me;
  if (!me) return;
  $("profile-first").value = me.first_name || "";
  $("profile-last").value = me.last_name || "";
  $("profile-username").value = me.username || "";
  $("profile-error").textContent = "";
  $("profile").showModal();
  $("profile-first").focus();
});

$("profile-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("profile-error").textContent = "";
  try {
    const result = await rpc("profile", {
      first_name: $("profile-first").value, last_name: $("profile-last").value,
      username: $("profile-username").value,
    });
    showMe({ ...state.me, ...result.me });
    $("profile").close();
  } catch (e) { $("profile-error").textContent = e.message; }
});
$("profile-cancel").addEventListener("click", () => $("profile").close());

// -- groups --------------------------------------------------------------------------------

const usernames = (text) => text.split(/[\s,]+/).map((n) => n.trim()).filter(Boolean);

$("group-open").addEventListener("click", () => {
  $("group-error").textContent = "";
  $("new-group").showModal();
  $("group-title").focus();
});
$("group-cancel").addEventListener("click", () => $("new-group").close());

$("group-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("group-error").textContent = "";
  try {
    const result = await rpc("create_group", {
      title: $("group-title").value, usernames: usernames($("group-members").value),
      kind: $("group-kind").value,
    });
    rememberUsers(result.users);
    rememberChats(result.chats);
    $("new-group").close();
    $("group-title").value = $("group-members").value = "";
    if (result.chat !== null && !state.dialogs.has(result.chat)) state.dialogs.set(result.chat, { chat: result.chat, top: null, unread: 0 });
    for (const message of result.messages) onUpdate({ type: "message", message });
    await openChat(result.chat);
  } catch (e) { $("group-error").textContent = e.message; }
});

$("add-member-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("add-member-error").textContent = "";
  try {
    const result = await rpc("add_member", { chat: state.chat, username: $("add-member").value.trim() });
    $("add-member").value = "";
    applyChange(result);
  } catch (e) { $("add-member-error").textContent = e.message; }
});

// Joining a public supergroup or channel opened by its username.
$("chat-join").addEventListener("click", async () => {
  const chat = state.chat;
  try {
    const result = await rpc("join", { chat });
    rememberUsers(result.users);
    rememberChats(result.chats);
    if (!state.dialogs.has(chat)) state.dialogs.set(chat, { chat, top: null, unread: 0 });
    for (const message of result.messages) onUpdate({ type: "message", message });
    renderDialogs();
    renderChatHead();
    if (!$("text").disabled) $("text").focus();
  } catch (e) { toast(`Not joined: ${e.message}`); }
});

// -- managing a group or channel: its name, its members, leaving ---------------------------

$("chat-manage").addEventListener("click", async () => {
  const chat = state.chat;
  if (chat === null || chat > 0) return;
  $("manage-error").textContent = "";
  $("manage-title").value = chatName(chat);
  const known = state.chats.get(chat);
  $("public-form").hidden = chatKind(chat) === "group" || !(known && known.creator);
  $("public-username").value = known && known.username ? known.username : "";
  $("manage-heading").textContent = `${chatKind(chat)[0].toUpperCase()}${chatKind(chat).slice(1)} settings`;
  $("members").replaceChildren();
  $("manage").showModal();
  $("manage-title").focus();
  await loadMembers(chat);
});
$("manage-close").addEventListener("click", () => $("manage").close());

async function loadMembers(chat) {
  try {
    const result = await rpc("members", { chat });
    if (state.chat !== chat) return;
    rememberUsers(result.users);
    const me = state.me ? state.me.id : null;
    $("members").replaceChildren(...result.members.map((member) => el("li", null,
      el("span", { class: "name" }, member.user === me ? `${shortName(member.user)} (you)` : userName(member.user)),
      member.role !== "member" ? el("span", { class: "group-mark" }, member.role) : null,
      member.user === me || member.role === "creator" ? null : el("button", {
        type: "button", "aria-label": `Remove ${shortName(member.user)}`,
        onclick: () => removeMember(chat, member.user),
      }, "Remove"))));
  } catch (e) { $("manage-error").textContent = e.message; }
}

// Service messages the change made are shown at once, as pushed ones are.
function applyChange(result) {
  rememberUsers(result.users);
  rememberChats(result.chats);
  for (const message of result.messages) onUpdate({ type: "message", message });
  renderDialogs();
  renderChatHead();
}

async function removeMember(chat, user) {
  $("manage-error").textContent = "";
  try {
    applyChange(await rpc("remove_member", { chat, user }));
    await loadMembers(chat);
  } catch (e) { $("manage-error").textContent = e.message; }
}

$("manage-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("manage-error").textContent = "";
  try {
    applyChange(await rpc("rename", { chat: state.chat, title: $("manage-title").value }));
  } catch (e) { $("manage-error").textContent = e.message; }
});

$("public-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("manage-error").textContent = "";
  try {
    rememberChats((await rpc("set_username", { chat: state.chat, username: $("public-username").value })).chats);
    $("manage-error").textContent = "";
    toast($("public-username").value.trim() ? `Public: @${$("public-username").value.trim().replace(/^@/, "")}` : "Private again");
  } catch (e) { $("manage-error").textContent = e.message; }
});

$("manage-leave").addEventListener("click", async () => {
  const chat = state.chat;
  $("manage-error").textContent = "";
  try {
    await rpc("leave", { chat });
  } catch (e) { $("manage-error").textContent = e.message; return; }
  $("manage").close();
  // As the apps do, a chat left goes from the list.
  state.dialogs.delete(chat);
  state.chat = null;
  state.messages.clear();
  $("messages").replaceChildren();
  $("chat-title").textContent = "No chat open";
  $("chat-kind").hidden = $("chat-manage").hidden = $("add-member-form").hidden = $("chat-join").hidden = true;
  $("text").disabled = $("send").disabled = true;
  renderDialogs();
  $("open-username").focus();
});

// -- the live panel -------------------------------------------------------------------------

$("panel-toggle").addEventListener("click", async () => {
  state.panelOpen = !state.panelOpen;
  $("panel-toggle").setAttribute("aria-pressed", String(state.panelOpen));
  $("panel").hidden = !state.panelOpen;
  document.body.classList.toggle("panel-open", state.panelOpen);
  if (state.ws && state.ws.readyState === WebSocket.OPEN) await rpc("watch", { on: state.panelOpen });
});

$("panel-pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("panel-pause").setAttribute("aria-pressed", String(state.paused));
  $("panel-pause").textContent = state.paused ? "Resume" : "Pause";
  if (!state.paused) { const held = state.held; state.held = []; held.forEach(addCall); }
  $("panel-held").textContent = "";
});

$("panel-clear").addEventListener("click", () => {
  $("calls").replaceChildren(); $("presses").replaceChildren(); state.presses.clear(); state.held = [];
});

$("panel-filter").addEventListener("input", applyFilter);

function matches(row) {
  const needle = $("panel-filter").value.trim().toLowerCase();
  return !needle || row.dataset.text.includes(needle);
}

function applyFilter() {
  for (const row of $("calls").children) row.hidden = !matches(row);
}

function onCall(call) {
  if (state.paused) {
    state.held.push(call);
    if (state.held.length > 2000) state.held.shift();
    $("panel-held").textContent = `${state.held.length} held`;
    return;
  }
  addCall(call);
}

const MAX_ROWS = 500;

function addCall(call) {
  const result = call.error || "ok";
  const row = el("tr", { class: `door-${call.door}`, dataset: {
    text: `${call.door} ${call.account} ${call.method} ${result}`.toLowerCase() } },
    el("td", null, call.at.toFixed(1)),
    el("td", null, call.door),
    el("td", null, call.account),
    el("td", null, call.method),
    el("td", { class: call.error ? "err" : "" }, result),
    el("td", null, `${call.ms.toFixed(2)} ms`));
  row.hidden = !matches(row);
  const body = $("calls");
  body.prepend(row);
  while (body.children.length > MAX_ROWS) body.lastElementChild.remove();
}

function ms(value) { return value === null || value === undefined ? "—" : `${value.toFixed(2)} ms`; }

function addPress(press) {
  const steps = press.cached
    ? [["press", "0"], ["cached answer shown", ms(press.shown_ms)], ["bot", "not asked"]]
    : [["press", "0"], ["update to bot", ms(press.to_bot_ms)], ["answer", ms(press.answer_ms)],
       ["answered", ms(press.answered_ms)], ["shown", ms(press.shown_ms)]];
  const item = el("li", { dataset: { query: press.query_id || "" } },
    el("div", null, `${press.user} → ${press.bot_name}, message ${press.msg_id}`,
      press.error ? el("span", { class: "error" }, ` ${press.error}`) : null),
    el("div", { class: "steps" }, ...steps.map(([name, value]) => el("span", { class: `step-${name.split(" ")[0]}` }, `${name} `, el("b", null, value)))));
  $("presses").prepend(item);
  while ($("presses").children.length > 100) $("presses").lastElementChild.remove();
  if (press.query_id) state.presses.set(press.query_id, { item, press });
}

function onPressTimeline(press) {
  addPress(press);
}

function shownAt(queryId, shown) {
  const entry = state.presses.get(queryId);
  if (!entry) return;
  entry.press.shown_ms = shown;
  const fresh = entry.item;
  const b = fresh.querySelector(".step-shown b");
  if (b) b.textContent = ms(shown);
}

connect();
