// dmbot dev: the chat page. People act through the emulator's admin endpoints,
// as they would in X's app; everything else arrives by long polling /_chat/updates.
"use strict";

const REALISM = [
  ["duplicates", "Duplicates", "Every delivery is sent twice"],
  ["out_of_order", "Out of order", "A delivery is held back until the next one (2 s at most)"],
  ["retries", "Retries", "Deliveries not answered 200 in time are sent again"],
  ["drop_metadata", "Drop tap metadata", "Taps arrive as bare label text, like legacy clients"],
  ["typing_events", "Typing events", "The person's typing reaches the webhook"],
  ["read_events", "Read receipts", "The person's reads reach the webhook"],
];
const DELAYS = [0, 0.5, 2, 5];
const TYPING_MS = 3000; // X shows a typing indicator for about 3 s

const state = {
  cursor: "",
  account: null,
  people: [],
  realism: {},
  messages: [],
  indicators: [],
  traffic: [],
  held: [],
  me: null, // the selected person's id
  unread: {},
  chosen: {}, // prompt message id -> label tapped on this page
  typingUntil: {}, // person id -> ms
  seenBodies: new Map(), // delivery body -> status of its first attempt
  pending: null, // the image chosen to go with the next message: a File
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

// ---- talking to the server ------------------------------------------------

async function post(path, body) {
  const raw = body instanceof Blob;
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": raw ? body.type || "application/octet-stream" : "application/json" },
    body: raw ? body : JSON.stringify(body),
  });
  const data = response.status === 204 ? {} : await response.json();
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function toast(message) {
  const box = $("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 5000);
}

function setStatus(kind, text) {
  $("status").dataset.state = kind;
  $("status-text").textContent = text;
}

async function follow() {
  for (;;) {
    try {
      const url = `/_chat/updates?timeout=25&cursor=${encodeURIComponent(state.cursor)}`;
      const response = await fetch(url, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      apply(await response.json());
      setStatus("live", "Live: emulator and bot running");
    } catch (error) {
      setStatus("down", "Disconnected: is dmbot dev still running? Retrying…");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function apply(update) {
  if (update.reset) {
    state.messages = [];
    state.indicators = [];
    state.traffic = [];
    state.seenBodies.clear();
    $("traffic").replaceChildren();
  }
  state.cursor = update.cursor;
  state.account = update.account;
  state.people = update.people;
  state.realism = update.realism;
  state.held = update.held || [];
  const bot = state.account.id;
  for (const message of update.messages) {
    state.messages.push(message);
    if (message.sender_id === bot) {
      delete state.typingUntil[message.recipient_id];
      if (message.recipient_id !== state.me && !update.reset) {
        state.unread[message.recipient_id] = (state.unread[message.recipient_id] || 0) + 1;
      }
    }
  }
  for (const indicator of update.indicators) {
    state.indicators.push(indicator);
    if (indicator.kind === "typing" && indicator.sender_id === bot && !update.reset) {
      // A reply sent since ends the indicator, as on X.
      const answered = state.messages.some(
        (m) => m.sender_id === bot && m.recipient_id === indicator.recipient_id && m.created_ms >= indicator.created_ms,
      );
      if (!answered) {
        state.typingUntil[indicator.recipient_id] = Date.now() + TYPING_MS;
        setTimeout(renderThread, TYPING_MS + 50);
      }
    }
  }
  if (!state.me || !state.people.some((p) => p.id === state.me)) {
    const wanted = decodeURIComponent(location.hash.slice(1));
    const person = state.people.find((p) => p.screen_name === wanted) || state.people[0];
    state.me = person ? person.id : null;
  }
  for (const exchange of update.traffic) addExchange(exchange);
  render();
  document.body.dataset.ready = "true";
}

// ---- people -----------------------------------------------------------------

const PALETTE = ["#f91880", "#7856ff", "#00ba7c", "#ff7a00", "#1d9bf0", "#c4302b", "#0a8f8f", "#8b5e3c"];

function colour(id) {
  // Neighbouring ids (alice, bob, ...) get neighbouring, so different, colours.
  let sum = 0;
  for (const ch of id) sum += ch.charCodeAt(0);
  return PALETTE[sum % PALETTE.length];
}

function avatar(user, size = "") {
  const node = el("div", { class: `avatar ${size}`, "aria-hidden": "true" });
  node.textContent = (user.name || user.screen_name || "?").trim().charAt(0).toUpperCase();
  node.style.setProperty("--avatar", colour(user.id));
  return node;
}

function conversation(personId) {
  const bot = state.account.id;
  return state.messages.filter(
    (m) =>
      (m.sender_id === personId && m.recipient_id === bot) ||
      (m.sender_id === bot && m.recipient_id === personId),
  );
}

function choose(personId) {
  state.me = personId;
  delete state.unread[personId];
  const person = state.people.find((p) => p.id === personId);
  if (person) history.replaceState(null, "", `#${person.screen_name}`);
  render();
  $("text").focus();
}

function renderPeople() {
  const list = $("people");
  list.replaceChildren(
    ...state.people.map((person) => {
      const last = conversation(person.id).at(-1);
      const preview = last
        ? `${last.sender_id === person.id ? "You: " : ""}${last.message_data.text || "(image)"}`
        : "No messages yet";
      const unread = state.unread[person.id];
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: "person",
            "data-screen-name": person.screen_name,
            "aria-current": person.id === state.me ? "true" : "false",
            onclick: () => choose(person.id),
          },
          avatar(person),
          el(
            "div",
            { class: "text" },
            el("div", { class: "top" }, el("span", { class: "name" }, person.name), el("span", { class: "handle" }, `@${person.screen_name}`)),
            el("div", { class: "preview" }, preview),
          ),
          unread ? el("span", { class: "badge" }, unread) : null,
        ),
      );
    }),
  );
}

// ---- the conversation ----------------------------------------------------------

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}

function renderHeader() {
  const account = state.account;
  const me = state.people.find((p) => p.id === state.me);
  $("bot-avatar").textContent = (account.name || "B").charAt(0).toUpperCase();
  $("bot-name").textContent = account.name || "Bot";
  $("bot-handle").textContent = `@${account.screen_name || "bot"}`;
  $("writing-as").replaceChildren(...(me ? ["Writing as ", el("strong", {}, `@${me.screen_name}`)] : []));
  renderDmSettings(me);
  document.title = `${account.name || "Bot"} · dmbot dev`;
}

// Who may write to the person first: X refuses the bot's first DM (403, code 349) unless
// they accept message requests from everyone or follow the bot; writing first opens it too.
function renderDmSettings(me) {
  const box = $("dm-settings");
  if (!me) return box.replaceChildren();
  const bot = state.account;
  const follows = (me.follows || []).includes(bot.id);
  const toggle = (key, label, help, checked, change) =>
    el(
      "label",
      { class: "switch", title: help },
      el("input", { type: "checkbox", "data-key": key, checked, onchange: (e) => setDmSettings(me, change(e.target.checked)) }),
      el("span", { class: "track" }),
      label,
    );
  box.replaceChildren(
    toggle(
      "accepts_requests",
      "Accepts message requests",
      `Anyone may write to @${me.screen_name} first ("Allow message requests from everyone" on X)`,
      Boolean(me.accepts_requests),
      (on) => ({ accepts_requests: on }),
    ),
    toggle(
      "follows",
      `Follows @${bot.screen_name || "bot"}`,
      `@${me.screen_name} follows the bot, which may then write to them first`,
      follows,
      (on) => (on ? { follow: [bot.id] } : { unfollow: [bot.id] }),
    ),
  );
}

async function setDmSettings(person, change) {
  try {
    const updated = await post("/_emulator/dm_settings", { user: person.id, ...change });
    Object.assign(person, { accepts_requests: updated.accepts_requests, follows: updated.follows });
  } catch (error) {
    toast(`Could not change @${person.screen_name}'s settings: ${error.message}`);
  }
  renderHeader();
}

function intro() {
  const account = state.account;
  const tryText = (text) =>
    el("button", { type: "button", class: "ghost", onclick: () => send(text) }, text);
  return el(
    "div",
    { class: "intro" },
    el("div", { class: "avatar bot large", "aria-hidden": "true" }, (account.name || "B").charAt(0).toUpperCase()),
    el("div", { class: "name" }, account.name),
    el("div", { class: "handle" }, `@${account.screen_name}`),
    el("p", {}, "This is a conversation with your bot, through an emulated X: every message below went through the webhook and the API."),
    el("div", { class: "try" }, tryText("Hi")),
  );
}

function options(message, latest) {
  const chosen = state.chosen[message.id];
  return el(
    "div",
    { class: `options ${latest ? "latest" : "earlier"}`, "data-message-id": message.id },
    message.message_data.quick_reply.options.map((option) =>
      el(
        "button",
        {
          type: "button",
          class: `option${chosen === option.label ? " chosen" : ""}`,
          "data-label": option.label,
          title: latest ? option.description || null : "An earlier question: tapping it is a late tap",
          onclick: () => tap(message, option.label),
        },
        option.label,
        option.description ? el("small", {}, option.description) : null,
      ),
    ),
  );
}

function renderThread() {
  const thread = $("thread");
  const atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
  const bot = state.account.id;
  const messages = state.me ? conversation(state.me) : [];
  const withOptions = messages.filter((m) => m.sender_id === bot && m.message_data.quick_reply);
  // The question waiting for an answer: the last one offering options, unless the person
  // wrote since. Earlier questions keep their options too (a late tap), shown quieter.
  const lastPrompt = withOptions.at(-1);
  const lastWritten = messages.findLastIndex((m) => m.sender_id !== bot);
  const latestPrompt = lastPrompt && messages.indexOf(lastPrompt) > lastWritten ? lastPrompt : null;
  const seen = state.indicators
    .filter((i) => i.kind === "read" && i.sender_id === bot && i.recipient_id === state.me)
    .map((i) => BigInt(i.last_read_event_id || "0"))
    .reduce((a, b) => (b > a ? b : a), 0n);
  const lastMine = messages.filter((m) => m.sender_id === state.me).at(-1);
  const nodes = [intro()];
  messages.forEach((message, index) => {
    const data = message.message_data;
    const side = message.sender_id === bot ? "bot" : "user";
    const previous = messages[index - 1];
    const next = messages[index + 1];
    const follows = previous && previous.sender_id === message.sender_id;
    // Like X: one timestamp under each run of messages from the same side.
    const lastOfRun = !next || next.sender_id !== message.sender_id || next.created_ms - message.created_ms > 60000;
    const meta = [clock(message.created_ms)];
    if (message.quick_reply_metadata !== null && message.quick_reply_metadata !== undefined) {
      meta.push(" · ", el("span", { class: "tap" }, "Quick Reply tap"));
    }
    if (lastMine && message.id === lastMine.id && seen >= BigInt(message.id)) {
      meta.push(" · ", el("span", { class: "seen" }, "Seen"));
    }
    nodes.push(
      el(
        "div",
        { class: `msg ${side}${follows ? " follow" : ""}`, "data-id": message.id },
        data.text ? el("div", { class: "bubble" }, data.text) : null,
        data.attachment ? attachment(data.attachment, message.shown) : null,
        data.ctas && data.ctas.length
          ? el("div", { class: "ctas" }, data.ctas.map((c) => el("a", { class: "cta", href: c.url, target: "_blank", rel: "noopener noreferrer" }, c.label)))
          : null,
        side === "bot" && data.quick_reply ? options(message, message === latestPrompt) : null,
        lastOfRun || meta.length > 1 ? el("div", { class: "meta" }, meta) : null,
      ),
    );
  });
  if ((state.typingUntil[state.me] || 0) > Date.now()) {
    nodes.push(el("div", { class: "msg bot typing", "aria-label": "typing" }, el("div", { class: "bubble" }, el("span"), el("span"), el("span"))));
  }
  thread.replaceChildren(...nodes);
  if (atBottom || render.first) thread.scrollTop = thread.scrollHeight;
  render.first = false;
}

function attachment(item, shown) {
  const id = item.media && item.media.id ? item.media.id : "?";
  const media = shown && shown.attachment ? shown.attachment.media : {};
  if (media.type === "video") {
    return el("video", { class: "media", src: `/_emulator/media/${id}`, controls: true, "data-media-id": id });
  }
  // The file the account or the person uploaded; a media id the emulator never saw gets a card.
  const image = el("img", { class: "media", src: `/_emulator/media/${id}`, alt: `Image ${id}`, "data-media-id": id });
  image.addEventListener("load", () => image.classList.toggle("small", image.naturalWidth < 48));
  image.addEventListener("error", () => image.replaceWith(placeholder(item, id)));
  return image;
}

function placeholder(item, id) {
  const node = el("div", { class: "attachment" });
  node.innerHTML =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 3h14a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm0 2v10.6l3.3-3.3a1 1 0 0 1 1.4 0l3.3 3.3 2.3-2.3a1 1 0 0 1 1.4 0l2.3 2.3V5zm10 2a2 2 0 1 1 0 4 2 2 0 0 1 0-4z"/></svg>';
  node.append(`Media attachment ${id} (${item.type || "media"}): a picture or video on X`);
  return node;
}

function render() {
  if (!state.account) return;
  renderHeader();
  renderPeople();
  renderThread();
  renderRealism();
  renderHeld();
}
render.first = true;

// ---- acting as the person -----------------------------------------------------------

async function send(text) {
  const image = state.pending;
  if ((!text.trim() && !image) || !state.me) return;
  setPending(null);
  try {
    const message = { from: state.me, to: state.account.id, text };
    if (image) {
      // As X's app does: the image is uploaded for DMs, then the DM names it.
      const me = encodeURIComponent(state.me);
      const uploaded = await post(`/_emulator/media?user=${me}&media_category=dm_image`, image);
      message.media_id = uploaded.media_id_string;
    }
    await post("/_emulator/send", message);
  } catch (error) {
    toast(`Could not send: ${error.message}`);
  }
}

function setPending(file) {
  state.pending = file;
  const box = $("pending");
  box.hidden = !file;
  if (!file) return box.replaceChildren();
  box.replaceChildren(
    el("img", { src: URL.createObjectURL(file), alt: "" }),
    `${file.name}: sent with your next message`,
    el("button", { type: "button", "aria-label": "Remove the image", onclick: () => setPending(null) }, "×"),
  );
}

async function tap(message, label) {
  state.chosen[message.id] = label;
  renderThread();
  try {
    // The tap carries the option's metadata, as X's app sends it.
    await post("/_emulator/tap", { from: state.me, message_id: message.id, label });
  } catch (error) {
    toast(`Could not tap ${label}: ${error.message}`);
  }
}

// ---- the realism switches -------------------------------------------------------------

function renderRealism() {
  const box = $("realism");
  if (!box.childElementCount) {
    for (const [key, label, help] of REALISM) {
      box.append(
        el(
          "label",
          { class: "switch", title: help },
          el("input", { type: "checkbox", "data-key": key, onchange: (e) => setRealism({ [key]: e.target.checked }) }),
          el("span", { class: "track" }),
          label,
        ),
      );
    }
    const select = el(
      "select",
      { "data-key": "delay", "aria-label": "Delivery delay", onchange: (e) => setRealism({ delay: Number(e.target.value) }) },
      DELAYS.map((d) => el("option", { value: d }, d ? `${d} s` : "none")),
    );
    box.append(el("label", { class: "switch", title: "Seconds between an event and its delivery" }, "Delay", select));
  }
  for (const input of box.querySelectorAll("input[data-key]")) input.checked = Boolean(state.realism[input.dataset.key]);
  const select = box.querySelector("select");
  const delay = state.realism.delay || 0;
  if (!DELAYS.includes(delay)) select.append(el("option", { value: delay }, `${delay} s`));
  select.value = String(delay);
}

async function setRealism(change) {
  try {
    state.realism = await post("/_emulator/realism", change);
  } catch (error) {
    toast(`Could not switch: ${error.message}`);
  }
  renderRealism();
}

// ---- traffic ------------------------------------------------------------------------------

function renderHeld() {
  // Deliveries the "Out of order" switch holds back: they go out after the next one, or soon.
  $("held").replaceChildren(
    ...state.held.map((h) =>
      el(
        "li",
        { class: "held-item" },
        el("span", { class: "tag held" }, "held back"),
        ` ${heldWhat(h)} for ${who(h.for_user_id)}: `,
        `out of order, sent after the next delivery or within ${Math.ceil(h.release_in)} s`,
      ),
    ),
  );
  $("held").hidden = state.held.length === 0;
}

function heldWhat(h) {
  if (h.kind === "direct_message_events") return `DM ${h.event_id}`;
  return h.event_id ? `${h.kind} of DM ${h.event_id}` : h.kind;
}

// An X Activity API envelope: the account is data.filter.user_id, and its own dm.sent is the echo.
function describeActivity(envelope, tags) {
  const payload = envelope.payload || {};
  const type = envelope.event_type;
  tags.unshift("XAA");
  if (payload.direct_message_events) {
    const create = (payload.direct_message_events[0] || {}).message_create || {};
    const data = create.message_data || {};
    if (type === "dm.sent") tags.unshift("echo");
    if (data.quick_reply_response) tags.unshift("tap");
    return { what: type, tags, gist: `${who(create.sender_id)}: ${data.text || ""}` };
  }
  const typing = payload.direct_message_indicate_typing_events;
  if (typing) return { what: type, tags, gist: `${who(typing[0].sender_id)} is typing` };
  const read = payload.direct_message_mark_read_events;
  if (read) return { what: type, tags, gist: `${who(read[0].sender_id)} read the messages` };
  return { what: type, tags, gist: `for ${who((envelope.filter || {}).user_id)}` };
}

function describe(ex) {
  const body = ex.body || {};
  if (ex.direction === "to_bot") {
    if (ex.method === "GET") {
      return { what: "CRC check", gist: ex.status === 200 ? "answered with sha256=HMAC(consumer secret, crc_token)" : "" };
    }
    const tags = ["signed"];
    const first = state.seenBodies.get(ex.raw);
    if (first !== undefined) tags.push(first === 200 ? "duplicate" : "retry");
    else state.seenBodies.set(ex.raw, ex.status);
    // XAA may send one envelope or, undocumented but allowed, a list of them.
    const envelope = Array.isArray(body.data) ? body.data[0] : body.data;
    if (envelope && envelope.event_type) return describeActivity(envelope, tags);
    if (body.replay_job_status) {
      const job = body.replay_job_status;
      return { what: "replay job", tags, gist: `${job.job_state}: ${job.job_state_description || ""}` };
    }
    const forUser = body.for_user_id;
    if (body.direct_message_events) {
      const event = body.direct_message_events[0] || {};
      const create = event.message_create || {};
      const data = create.message_data || {};
      if (create.sender_id === forUser) tags.unshift("echo");
      if (data.quick_reply_response) tags.unshift("tap");
      return { what: "message_create", tags, gist: `${who(create.sender_id)}: ${data.text || ""}` };
    }
    if (body.direct_message_indicate_typing_events) return { what: "typing", tags, gist: `${who(body.direct_message_indicate_typing_events[0].sender_id)} is typing` };
    if (body.direct_message_mark_read_events) return { what: "read receipt", tags, gist: `${who(body.direct_message_mark_read_events[0].sender_id)} read the messages` };
    const key = Object.keys(body).find((k) => k !== "for_user_id" && k !== "users") || "event";
    return { what: key, tags, gist: "" };
  }
  const path = ex.path.split("?")[0];
  if (path.endsWith("/direct_messages/events/new.json")) {
    const data = (((body.event || {}).message_create) || {}).message_data || {};
    const count = data.quick_reply ? data.quick_reply.options.length : 0;
    const extras = count ? ` [${data.quick_reply.options.map((o) => o.label).join(" | ")}]` : "";
    return { what: "send DM", gist: `${data.text || ""}${extras}` };
  }
  if (/^\/2\/dm_conversations\/with\/\d+\/messages$/.test(path)) {
    return { what: "send DM (v2)", gist: `to ${who(path.split("/")[4])}: ${body.text || ""}` };
  }
  if (path === "/2/activity/subscriptions" && ex.method === "POST") {
    return { what: "XAA subscribe", gist: `${body.event_type} for ${who((body.filter || {}).user_id)}` };
  }
  if (path.endsWith("/indicate_typing.json")) return { what: "typing indicator", gist: `to ${who(body.recipient_id)}` };
  if (path.endsWith("/mark_read.json")) return { what: "mark read", gist: `up to ${body.last_read_event_id}` };
  return { what: `${ex.method} ${path}`, gist: "" };
}

function who(id) {
  if (state.account && id === state.account.id) return `@${state.account.screen_name}`;
  const person = state.people.find((p) => p.id === id);
  return person ? `@${person.screen_name}` : id;
}

function highlight(value) {
  const text = JSON.stringify(value, null, 2);
  const pre = el("pre", { class: "json" });
  const token = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  for (const match of text.matchAll(token)) {
    pre.append(text.slice(last, match.index));
    if (match[1]) {
      pre.append(el("span", { class: match[2] ? "k" : "s v" }, match[1]));
      if (match[2]) pre.append(match[2]);
    } else if (match[3]) pre.append(el("span", { class: "b" }, match[3]));
    else pre.append(el("span", { class: "n" }, match[4]));
    last = match.index + match[0].length;
  }
  pre.append(text.slice(last));
  return pre;
}

function addExchange(ex) {
  ex.raw = JSON.stringify(ex.body);
  state.traffic.push(ex);
  const info = describe(ex);
  const ok = ex.status !== null && ex.status >= 200 && ex.status < 300;
  const dir = ex.direction === "to_bot" ? "X → bot" : "bot → X";
  const time = new Date(ex.at * 1000).toLocaleTimeString([], { hour12: false });
  const details = el(
    "details",
    {},
    el(
      "summary",
      {},
      el("span", { class: "dir" }, dir),
      el("span", { class: "what" }, info.what, (info.tags || []).map((t) => el("span", { class: `tag ${t}` }, t))),
      el("span", { class: `code${ok ? "" : " bad"}` }, ex.status === null ? "no answer" : ex.status),
      el("span", { class: "time" }, time),
      el("span", { class: "gist" }, info.gist || ex.error || ""),
    ),
    el(
      "div",
      { class: "body" },
      el("div", { class: "line" }, `${ex.method} ${ex.path}`),
      Object.entries(ex.headers).map(([k, v]) => el("div", { class: "line" }, el("i", {}, `${k}: `), v)),
      ex.direction === "to_x" ? el("div", { class: "line" }, el("i", {}, "authorization: "), "OAuth 1.0a, signed (tokens not shown)") : null,
      ex.body !== null ? [el("h4", {}, "Request"), highlight(ex.body)] : null,
      el("h4", {}, ex.error ? `No answer: ${ex.error}` : `Response ${ex.status}`),
      ex.response !== null ? highlight(ex.response) : null,
    ),
  );
  const list = $("traffic");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  list.append(el("li", { class: `ex ${ex.direction}`, "data-seq": ex.seq }, details));
  if (atBottom) list.scrollTop = list.scrollHeight;
  for (const kind of ["all", "to_bot", "to_x"]) {
    $(`count-${kind}`).textContent = state.traffic.filter((e) => kind === "all" || e.direction === kind).length;
  }
}

// ---- wiring -------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("attach").addEventListener("change", (event) => {
    const [file] = event.target.files;
    event.target.value = "";
    if (file) setPending(file);
    $("text").focus();
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value;
    input.value = "";
    send(text);
  });
  $("add-person").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("new-person");
    const name = input.value.trim().replace(/^@/, "");
    if (!name) return;
    const existing = state.people.find((p) => p.screen_name.toLowerCase() === name.toLowerCase());
    try {
      const person = existing || (await post("/_emulator/users", { screen_name: name, name: name.charAt(0).toUpperCase() + name.slice(1) }));
      if (!existing) state.people.push(person);
      input.value = "";
      choose(person.id);
    } catch (error) {
      toast(`Could not add ${name}: ${error.message}`);
    }
  });
  $("filters").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-filter]");
    if (!button) return;
    for (const b of $("filters").querySelectorAll("button")) b.classList.toggle("on", b === button);
    $("traffic").dataset.filter = button.dataset.filter;
  });
  $("toggle-panel").addEventListener("click", () => {
    const app = $("app");
    const narrow = window.matchMedia("(max-width: 1000px)").matches;
    const shown = narrow ? app.classList.toggle("show-panel") : !app.classList.toggle("no-panel");
    $("toggle-panel").setAttribute("aria-pressed", String(shown));
  });
  follow();
});
