// The approvals inbox: plain JS, no dependencies. Every call carries the bearer token;
// the server checks every answer against the pause's own schema, and the workflow again.
//
// Where the token lives: in this tab's sessionStorage (never on disk, gone with the tab).
// A new inbox tab (a notification link) asks the open ones for it over a same-origin
// BroadcastChannel, so one sign-in lasts for the browser session; sign-out ends it in
// every tab.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const KEY = "hitl-token";
const LABELS = {
  approve: "Approve", reject: "Reject", edit: "Edit…", retry: "Retry payment", cancel: "Cancel order",
};
const DONE = {
  approve: "approved", reject: "rejected", edit: "approved with changes", retry: "retried",
  cancel: "cancelled", expire: "expired",
};
const SENT = {
  approve: "approved it", reject: "rejected it", edit: "approved it with your changes",
  retry: "asked for the payment to be tried again", cancel: "cancelled the order",
};
const REFRESH_SECONDS = Math.max(2, Number(new URLSearchParams(location.search).get("refresh")) || 20);
const channel = "BroadcastChannel" in window ? new BroadcastChannel("hitl-inbox") : null;
let token = sessionStorage.getItem(KEY) || "";
let money = amounts("USD");
let landed = false;

// ---- the server ----

async function api(path, options = {}) {
  const response = await fetch(`/inbox/api/${path}`, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || body.detail || `HTTP ${response.status}`);
    error.status = response.status;
    error.body = body;
    throw error;
  }
  return body;
}

// ---- words and numbers, as people read them ----

function amounts(currency) {  // no currency (a misconfigured server): plain amounts
  return new Intl.NumberFormat(undefined, currency
    ? { style: "currency", currency } : { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function label(name) {
  const words = String(name).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function text(value) {
  if (typeof value === "number") return value.toLocaleString();
  if (Array.isArray(value)) return value.map(text).join(", ");
  return typeof value === "string" ? value : JSON.stringify(value);
}

function span(seconds) {
  const s = Math.abs(seconds);
  if (s < 90) return `${Math.max(1, Math.round(s))} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 129600) return `${Math.round(s / 3600)} h`;
  const days = Math.round(s / 86400);
  return `${days} day${days === 1 ? "" : "s"}`;
}

function secondsFrom(iso) {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? null : (at - Date.now()) / 1000;
}

function exact(iso) {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? String(iso) : at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function ago(iso) {
  const s = secondsFrom(iso);
  return s === null ? "" : `${span(s)} ago`;
}

function timeElement(iso, words) {
  const t = document.createElement("time");
  t.dateTime = iso;
  t.title = exact(iso);
  t.textContent = words;
  return t;
}

function setTime(el, iso, words) {
  el.replaceChildren(iso ? timeElement(iso, words) : "");
}

function due(el, iso) {
  const s = iso ? secondsFrom(iso) : null;
  el.classList.toggle("overdue", s !== null && s < 0);
  if (s === null) return el.replaceChildren();
  setTime(el, iso, s < 0 ? `overdue by ${span(s)}` : `due in ${span(s)}`);
}

// A request's fields come from its pause (server/inbox.py `shown`): each has a name,
// a label, a value, and whether it is money; no workflow's field names are known here.
function fieldNamed(fields, name) {
  return fields.find((f) => f.name === name) || { name, label: label(name), money: false };
}

function formatted(field, value) {
  return field.money && typeof value === "number" ? money.format(value) : text(value);
}

function headline(card, item) {
  $(".headline", card).textContent = item.headline || item.title;
  const step = item.details && item.details.levels
    ? ` · step ${item.details.step} of ${item.details.levels.length}` : "";
  $(".workflow", card).textContent = `${item.title}${step}`;
  $(".requester", card).textContent = item.requester ? `from ${item.requester}` : "";
}

function fill(list, fields) {
  list.replaceChildren();
  for (const field of fields) {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = field.label;
    dd.textContent = formatted(field, field.value);
    list.append(dt, dd);
  }
}

function trail(ol, entries, fields) {
  ol.replaceChildren();
  for (const e of entries) {
    const li = document.createElement("li");
    const what = DONE[e.decision] || e.decision || e.type || "decided";
    const role = e.role ? ` (${e.role}${e.step ? `, step ${e.step}` : ""})` : "";
    const via = e.channel ? ` via ${e.channel}` : "";
    li.append(`${label(what)} by ${e.approver || "unknown"}${role}${via}`);
    if (e.changes) {
      const changes = Object.entries(e.changes).map(([name, value]) => {
        const field = fieldNamed(fields, name);
        return `${field.label.toLowerCase()} to ${formatted(field, value)}`;
      });
      li.append(`, changed ${changes.join(", ")}`);
    }
    if (e.note) li.append(` — “${e.note}”`);
    if (e.at) li.append(" · ", timeElement(e.at, exact(e.at)));
    ol.append(li);
  }
}

function button(words, cls, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = words;
  if (cls) b.className = cls;
  b.addEventListener("click", onclick);
  return b;
}

function notify(message, kind = "info") {
  const notice = $("#notice");
  notice.textContent = message;
  notice.className = kind;
  notice.setAttribute("role", kind === "error" ? "alert" : "status");
  notice.hidden = !message;
}

// ---- one card per pause ----

function showError(card, message) {
  const error = $(".error", card);
  error.textContent = message || "";
  error.hidden = !message;
}

function busy(card, on) {
  for (const b of card.querySelectorAll(".answer button")) b.disabled = on;
}

function settle(card, kind, message) {
  card.classList.add(kind);
  card.dataset.settled = kind;
  $(".answer", card).hidden = true;
  showError(card, "");
  const outcome = $(".outcome", card);
  $("p", outcome).textContent = message;
  outcome.hidden = false;
  updateCount();
}

function sentMessage(decision, result) {
  const done = `Sent: you ${SENT[decision] || decision}.`;
  if (result.state === "waiting") {
    const who = (result.waiting_for || "").replace(/^user:/, "");
    return `${done} It now waits for ${who || "another decision"}.`;
  }
  if (result.state === "failed") return `${done} The workflow then failed; its owner sees why.`;
  if (result.state === "running") return `${done} The workflow is carrying it out.`;
  return `${done} Now ${result.status || "finished"}.`;
}

function staleMessage(error) {
  const last = error.body && error.body.last;
  if (last) {
    const when = last.at ? ` ${ago(last.at)} (${exact(last.at)})` : "";
    return `Already answered: ${DONE[last.decision] || last.decision} by ${last.approver || "someone"}${when}. Your answer was not applied.`;
  }
  return `Not applied: ${error.message}`;
}

function editFields(card, item) {
  const box = $(".edit .fields", card);
  box.replaceChildren();
  const currency = money.resolvedOptions().currency;
  for (const [name, value] of Object.entries(item.editable)) {
    const shown = fieldNamed(item.fields, name);
    const field = document.createElement("label");
    const input = document.createElement("input");
    input.name = name;
    input.value = value ?? "";
    input.dataset.type = typeof value === "number" ? "number" : "string";
    if (input.dataset.type === "number") {
      Object.assign(input, { type: "number", step: "any", min: "0", inputMode: "decimal" });
    }
    field.append(shown.money && currency ? `${shown.label} (${currency})` : shown.label, input);
    box.append(field);
  }
}

function openEdit(card, item, open) {
  showError(card, "");
  if (open) editFields(card, item);
  $(".edit", card).hidden = !open;
  $(".answer > .actions", card).hidden = open;
  if (open) $(".edit input", card)?.focus();
}

function editedValues(card, item) {
  const values = {};
  for (const input of card.querySelectorAll(".edit input")) {
    const name = fieldNamed(item.fields, input.name).label;
    const raw = input.value.trim();
    const value = input.dataset.type === "number" ? Number(raw) : raw;
    if (input.dataset.type === "number" && (!raw || !Number.isFinite(value) || value <= 0)) {
      throw new Error(`${name} must be a positive number`);
    }
    if (input.dataset.type === "string" && !raw) throw new Error(`${name} must not be empty`);
    if (value !== item.editable[input.name]) values[input.name] = value;
  }
  if (!Object.keys(values).length) throw new Error("Change at least one field, or cancel");
  return values;
}

async function send(card, item, decision) {
  showError(card, "");
  const note = $(".note", card).value.trim();
  const body = { thread_id: item.thread_id, interrupt_id: item.interrupt_id, decision };
  if (note) body.note = note;
  try {
    if (decision === "reject" && !note && item.kind !== "tool_approval") {
      $(".note", card).focus();
      throw new Error("Say why in the note to reject: the requester reads it");
    }
    if (decision === "edit") {
      const values = editedValues(card, item);
      if (item.kind === "tool_approval") body.args = { ...item.editable, ...values };
      else body.changes = values;
    }
  } catch (e) {
    showError(card, e.message);
    return;
  }
  busy(card, true);
  try {
    const result = await api("answer", { method: "POST", body: JSON.stringify(body) });
    settle(card, result.state === "failed" ? "failed" : "sent", sentMessage(decision, result));
  } catch (e) {
    if (e.status === 409) settle(card, "stale", staleMessage(e));
    else showError(card, e.message);
  } finally {
    busy(card, false);
  }
}

function render(item) {
  const card = $("#item-template").content.firstElementChild.cloneNode(true);
  card.id = `item-${item.interrupt_id}`;
  card.dataset.thread = item.thread_id;
  if (item.kind === "tool_approval") {  // langchain's reviews: the message is optional
    $(".note-name", card).textContent = "Message to the assistant";
    $(".note-label .muted", card).textContent = "(optional; it reads it if you reject)";
  } else if (!item.options.includes("reject")) {
    $(".note-label .muted", card).textContent = "(optional)";
  }
  headline(card, item);
  fill($(".request", card), item.fields);
  if (item.history.length) {
    trail($(".trail ol", card), item.history, item.fields);
    $(".trail summary", card).textContent = `Earlier decisions (${item.history.length})`;
    $(".trail", card).open = true;
  } else {
    $(".trail", card).hidden = true;
  }
  showError(card, item.error);
  const actions = $(".answer > .actions", card);
  for (const option of item.options) {
    if (option === "edit") actions.append(button(LABELS.edit, "secondary", () => openEdit(card, item, true)));
    else actions.append(button(LABELS[option] || label(option), ["reject", "cancel"].includes(option) ? "danger" : "", () => send(card, item, option)));
  }
  $(".edit", card).addEventListener("submit", (event) => { event.preventDefault(); send(card, item, "edit"); });
  $(".edit .cancel", card).addEventListener("click", () => openEdit(card, item, false));
  $(".dismiss", card).addEventListener("click", () => { card.remove(); updateCount(); });
  timing(card, item);
  return card;
}

function timing(card, item) {
  setTime($(".age", card), item.waiting_since, `waiting ${span(secondsFrom(item.waiting_since) ?? 0)}`);
  due($(".due", card), item.due_at);
}

function updateCount() {
  const open = document.querySelectorAll("#items .item:not([data-settled])").length;
  $("#count").textContent = String(open);
  $("#empty").hidden = $("#items").hidden || document.querySelectorAll("#items .item").length > 0;
  document.title = open ? `(${open}) Approvals inbox` : "Approvals inbox";
}

function touched(card) {
  return $(".note", card).value.trim() || !$(".edit", card).hidden;
}

async function loadItems() {
  const items = await api("items");
  const section = $("#items");
  const current = new Set(items.map((item) => `item-${item.interrupt_id}`));
  for (const card of section.querySelectorAll(".item:not([data-settled])")) {
    if (current.has(card.id)) continue;
    if (touched(card)) settle(card, "stale", "No longer waiting for you: answered elsewhere or expired. Your answer was not sent.");
    else card.remove();
  }
  for (const item of [...items].reverse()) {  // oldest first, each new one on top
    const card = document.getElementById(`item-${item.interrupt_id}`);
    if (card) timing(card, item);
    else section.prepend(render(item));
  }
  $("#refreshed").replaceChildren("Updated ", timeElement(new Date().toISOString(), new Date().toLocaleTimeString(undefined, { timeStyle: "short" })));
  updateCount();
  if (!landed) land();
}

function land() {
  if ($("#tabs").hidden) return;
  landed = true;
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id.startsWith("item-")) return;
  const card = document.getElementById(id);
  if (!card) {
    notify("The item this link points to is no longer waiting for you: it was answered, it expired, or it is not yours to answer.");
    return;
  }
  for (const other of document.querySelectorAll(".item.highlight")) other.classList.remove("highlight");
  card.classList.add("highlight");
  card.scrollIntoView({ block: "center" });
  card.focus({ preventScroll: true });
}

async function loadHistory() {
  const done = await api("history");
  const section = $("#history");
  section.replaceChildren();
  for (const h of done) {
    const card = $("#history-template").content.firstElementChild.cloneNode(true);
    headline(card, h);
    const badge = $(".outcome-badge", card);
    badge.textContent = label(h.outcome);
    badge.classList.add(h.outcome);
    setTime($(".age", card), h.finished, `finished ${ago(h.finished)}`);
    fill($(".request", card), h.fields);
    trail($(".audit", card), h.audit, h.fields);
    section.append(card);
  }
  if (!done.length) section.textContent = "No finished workflows yet.";
}

// ---- tabs, refresh, sign-in ----

function selectTab(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  $("#items").hidden = name !== "items";
  $("#history").hidden = name !== "history";
  updateCount();
  notify("");
  (name === "items" ? loadItems : loadHistory)().catch((e) => notify(e.message, "error"));
}

function refresh() {
  if (!token || $("#items").hidden || document.visibilityState !== "visible") return;
  loadItems().catch((e) => notify(`Could not refresh: ${e.message}`, "error"));
}

async function start() {
  $("#connecting").hidden = true;
  if (!token) token = await tokenFromOtherTabs();
  if (!token) { $("#signin").hidden = false; $("#token").focus(); return; }
  try {
    const me = await api("me");
    money = amounts(me.currency);
    $("#who").textContent = `${me.identity} (${me.role})`;
    $("#signin").hidden = true;
    $("#tabs").hidden = false;
    $("#signout").hidden = false;
    await loadItems();
    setInterval(refresh, REFRESH_SECONDS * 1000);
  } catch (e) {
    sessionStorage.removeItem(KEY);
    token = "";
    $("#signin").hidden = false;
    const error = $("#signin-error");
    error.textContent = e.status === 401 ? "That token was refused." : e.message;
    error.hidden = false;
  }
}

function tokenFromOtherTabs() {
  if (!channel) return Promise.resolve("");
  $("#connecting").hidden = false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => { channel.removeEventListener("message", take); $("#connecting").hidden = true; resolve(""); }, 600);
    function take({ data }) {
      if (data.type !== "token") return;
      clearTimeout(timer);
      channel.removeEventListener("message", take);
      $("#connecting").hidden = true;
      sessionStorage.setItem(KEY, data.token);
      resolve(data.token);
    }
    channel.addEventListener("message", take);
    channel.postMessage({ type: "need-token" });
  });
}

if (channel) {
  channel.addEventListener("message", ({ data }) => {
    if (data.type === "need-token" && token && !$("#tabs").hidden) channel.postMessage({ type: "token", token });
    if (data.type === "signout" && token) signOut(false);
  });
}

function signOut(everywhere) {
  sessionStorage.removeItem(KEY);
  token = "";
  if (everywhere && channel) channel.postMessage({ type: "signout" });
  location.reload();
}

$("#signin").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("#token").value.trim();
  sessionStorage.setItem(KEY, token);
  $("#signin-error").hidden = true;
  start();
});
$("#signout").addEventListener("click", () => signOut(true));
for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => selectTab(tab.dataset.tab));
  tab.addEventListener("keydown", (event) => {
    if (!["ArrowLeft", "ArrowRight"].includes(event.key)) return;
    const other = document.querySelector(`[role=tab][data-tab=${tab.dataset.tab === "items" ? "history" : "items"}]`);
    other.focus();
    selectTab(other.dataset.tab);
  });
}
window.addEventListener("hashchange", land);
document.addEventListener("visibilitychange", refresh);
start();
