// The approvals inbox: plain JS, no dependencies. Every call carries the bearer token;
// the server checks every answer against the pause's own schema, and the workflow again.
"use strict";

const $ = (selector) => document.querySelector(selector);
const LABELS = { approve: "Approve", reject: "Reject", edit: "Edit", retry: "Retry payment", cancel: "Cancel order" };
let token = sessionStorage.getItem("hitl-token") || "";

async function api(path, options = {}) {
  const response = await fetch(`/inbox/api/${path}`, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || body.detail || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function text(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function age(seconds) {
  if (seconds == null) return "";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

function fill(list, entries) {
  list.replaceChildren();
  for (const [key, value] of entries) {
    if (value === null || value === undefined) continue;
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = key;
    dd.textContent = text(value);
    list.append(dt, dd);
  }
}

function trail(ol, entries) {
  ol.replaceChildren();
  for (const e of entries) {
    const li = document.createElement("li");
    li.textContent = `${e.role}: ${e.decision} by ${e.approver || "?"}${e.note ? ` — ${e.note}` : ""}`
      + (e.changes ? ` ${JSON.stringify(e.changes)}` : "");
    ol.append(li);
  }
}

function button(label, cls, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (cls) b.className = cls;
  b.addEventListener("click", onclick);
  return b;
}

function editFields(card, item) {
  const box = card.querySelector(".edit");
  box.replaceChildren();
  for (const [name, value] of Object.entries(item.editable)) {
    const label = document.createElement("label");
    label.textContent = name;
    const input = document.createElement("input");
    input.name = name;
    input.value = value ?? "";
    input.dataset.type = typeof value === "number" ? "number" : "string";
    if (input.dataset.type === "number") { input.type = "number"; input.step = "any"; input.min = "0"; }
    label.append(input);
    box.append(label);
  }
  box.append(button("Send edit", "", () => send(card, item, "edit")));
  box.hidden = false;
}

function editedValues(card, item) {
  const values = {};
  for (const input of card.querySelectorAll(".edit input")) {
    const raw = input.value.trim();
    const value = input.dataset.type === "number" ? Number(raw) : raw;
    if (input.dataset.type === "number" && (!raw || !Number.isFinite(value) || value <= 0)) {
      throw new Error(`${input.name} must be a positive number`);
    }
    if (input.dataset.type === "string" && !raw) throw new Error(`${input.name} must not be empty`);
    if (value !== item.editable[input.name]) values[input.name] = value;
  }
  if (!Object.keys(values).length) throw new Error("change at least one field");
  return values;
}

async function send(card, item, decision) {
  const error = card.querySelector(".error");
  error.textContent = "";
  const note = card.querySelector(".note").value.trim();
  const body = { thread_id: item.thread_id, interrupt_id: item.interrupt_id, decision };
  if (note) body.note = note;
  try {
    if (decision === "reject" && !note) throw new Error("say why in the note to reject");
    if (decision === "edit") {
      const values = editedValues(card, item);
      if (item.kind === "tool_approval") body.args = { ...item.editable, ...values };
      else body.changes = values;
    }
  } catch (e) {
    error.textContent = e.message;
    return;
  }
  for (const b of card.querySelectorAll("button")) b.disabled = true;
  try {
    const result = await api("answer", { method: "POST", body: JSON.stringify(body) });
    card.remove();
    $("#notice").textContent = `Sent: ${decision} (${item.workflow}${result.status ? `, now ${result.status}` : ""})`;
    updateCount();
  } catch (e) {
    if (e.status === 409) {
      card.remove();
      $("#notice").textContent = `This item was already answered elsewhere (${e.message}).`;
      updateCount();
    } else {
      error.textContent = e.message;
      for (const b of card.querySelectorAll("button")) b.disabled = false;
    }
  }
}

function render(item) {
  const card = $("#item-template").content.firstElementChild.cloneNode(true);
  card.dataset.thread = item.thread_id;
  card.id = `item-${item.interrupt_id}`;
  const step = item.details.levels ? ` · step ${item.details.step} of ${item.details.levels.length}` : "";
  card.querySelector(".workflow").textContent = `${item.workflow}${step}`;
  card.querySelector(".age").textContent = `waiting ${age(item.age_seconds)}`;
  const rows = Object.entries(item.request);
  if (item.details.payment_error) rows.push(["payment error", item.details.payment_error]);
  if (item.due_at) rows.push(["due", item.due_at]);
  fill(card.querySelector(".request"), rows);
  if (item.history.length) trail(card.querySelector(".trail ol"), item.history);
  else card.querySelector(".trail").hidden = true;
  card.querySelector(".error").textContent = item.error || "";
  const actions = card.querySelector(".actions");
  for (const option of item.options) {
    if (option === "edit") actions.append(button(LABELS.edit, "secondary", () => editFields(card, item)));
    else actions.append(button(LABELS[option] || option, ["reject", "cancel"].includes(option) ? "danger" : "", () => send(card, item, option)));
  }
  return card;
}

function updateCount() {
  const n = document.querySelectorAll("#items .item").length;
  $("#count").textContent = `(${n})`;
  if (!n && !$("#items").textContent.trim()) $("#items").textContent = "Nothing is waiting for you.";
}

async function loadItems() {
  const items = await api("items");
  $("#items").replaceChildren(...items.map(render));
  updateCount();
}

async function loadHistory() {
  const done = await api("history");
  const section = $("#history");
  section.replaceChildren();
  for (const h of done) {
    const card = document.createElement("article");
    card.className = "item";
    card.innerHTML = '<div class="meta"><strong></strong><span class="age"></span></div><dl class="request"></dl><ol></ol>';
    card.querySelector("strong").textContent = `${h.workflow}: ${h.outcome ?? ""}`;
    card.querySelector(".age").textContent = h.finished;
    fill(card.querySelector(".request"), Object.entries(h.request));
    trail(card.querySelector("ol"), h.audit);
    section.append(card);
  }
  if (!done.length) section.textContent = "No finished workflows yet.";
}

async function start() {
  if (!token) { $("#signin").hidden = false; return; }
  try {
    const me = await api("me");
    $("#who").textContent = `${me.identity} (${me.role})`;
    $("#signin").hidden = true;
    $("#tabs").hidden = false;
    $("#signout").hidden = false;
    await loadItems();
  } catch (e) {
    sessionStorage.removeItem("hitl-token");
    token = "";
    $("#signin").hidden = false;
    $("#signin-error").textContent = e.status === 401 ? "That token was refused." : e.message;
  }
}

$("#signin").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("#token").value.trim();
  sessionStorage.setItem("hitl-token", token);
  start();
});
$("#signout").addEventListener("click", () => { sessionStorage.removeItem("hitl-token"); location.reload(); });
for (const tab of document.querySelectorAll("#tabs button")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll("#tabs button")) t.classList.toggle("active", t === tab);
    const name = tab.dataset.tab;
    $("#items").hidden = name !== "items";
    $("#history").hidden = name !== "history";
    (name === "items" ? loadItems : loadHistory)().catch((e) => { $("#notice").textContent = e.message; });
  });
}
start();
