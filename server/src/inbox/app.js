// The approver inbox. Everything shown comes from the API and is set as text (textContent),
// never parsed as HTML. The token lives in this tab's sessionStorage only.
"use strict";

const TOKEN_KEY = "aarm.token";
const params = new URLSearchParams(location.search);
const focusCase = params.get("case");
const focusAction = params.get("action");

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "data") for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = dv;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function api(method, path, body) {
  const headers = { "Authorization": "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok) {
    const reason = data && data.reason ? data.reason : "HTTP " + res.status;
    const err = new Error(reason + (data && data.message ? ": " + data.message : ""));
    err.status = res.status;
    throw err;
  }
  return data;
}

function orDash(v) { return v === null || v === undefined || v === "" ? "—" : v; }

function row(dl, label, value, cls) {
  dl.append(el("dt", {}, label));
  const dd = el("dd", cls ? { class: cls } : {});
  if (value instanceof Node) dd.append(value); else dd.textContent = orDash(value);
  dl.append(dd);
}

function renderCase(item) {
  const c = item.context;
  const li = el("li", { class: "case risk-" + c.risk, id: "case-" + c.case, data: { case: c.case, risk: c.risk } });
  if (c.case === focusCase) li.classList.add("focus");
  const source = c.source === "defer_escalation" ? "escalated deferral" : "direct step-up";
  const op = c.action.operation ? "." + c.action.operation : "";
  li.append(el("h2", {},
    el("span", { class: "badge risk" }, c.risk),
    el("span", { class: "badge" + (c.source === "defer_escalation" ? " defer" : "") }, source),
    c.action.tool + op + " — " + c.case));
  const dl = el("dl");
  row(dl, "Original request", c.original_request);
  row(dl, "Parameters", el("pre", { class: "params" }, JSON.stringify(c.action.params, null, 2)));
  const prior = (c.prior_actions || []).map(a => a.tool + " → " + a.decision).join(", ");
  row(dl, "Prior actions", prior || "none");
  row(dl, "Data classes", (c.data_classes || []).join(", ") || "none flagged");
  const dist = c.semantic_distance;
  const drift = dist !== null && dist !== undefined && Number(dist) > 0.5;
  row(dl, "Semantic distance", dist === null || dist === undefined ? "not given" : String(dist) + (drift ? " (may have drifted)" : ""), drift ? "drift" : "");
  row(dl, "Risk", c.risk);
  row(dl, "Policy confidence", c.confidence === null || c.confidence === undefined ? "not stated" : Math.round(c.confidence * 100) + "%");
  const id = c.identity;
  row(dl, "Identity chain", [orDash(id.human), orDash(id.service), orDash(id.agent), "session " + orDash(id.session), "roles " + ((id.roles || []).join(", ") || "—")].join(" → "));
  row(dl, "Matched rule", orDash(c.rule) + (c.rule_doc ? " — " + c.rule_doc : ""));
  row(dl, "Why", c.reason + " (" + c.reason_code + ")");
  const set = c.approver_role ? "role " + c.approver_role : (c.approvers || []).join(", ");
  row(dl, "Approvers", c.quorum + " of " + set + ((c.escalated_to || []).length ? "; escalated to " + c.escalated_to.join(", ") : ""));
  row(dl, "Approved so far", (c.approvals || []).join(", ") || "nobody");
  if (c.evidence && Object.keys(c.evidence).length) row(dl, "Evidence", el("pre", {}, JSON.stringify(c.evidence, null, 2)));
  row(dl, "Deadline", orDash(c.deadline) + " (then " + orDash(c.on_timeout) + ")");
  row(dl, "Policy", c.policy);
  li.append(dl);

  const actions = el("div", { class: "actions" });
  const approve = el("button", { type: "button", class: "approve", data: { action: "approve" } }, "Approve");
  const deny = el("button", { type: "button", class: "deny", data: { action: "deny" } }, "Deny…");
  const why = el("textarea", { class: "why", placeholder: "Why do you deny it? (required)", hidden: "" });
  const confirm = el("button", { type: "button", class: "confirm-deny", hidden: "", disabled: "" }, "Confirm deny");
  approve.addEventListener("click", () => act(c.case, "approve", undefined, li));
  deny.addEventListener("click", () => { why.hidden = false; confirm.hidden = false; why.focus(); });
  why.addEventListener("input", () => { confirm.disabled = why.value.trim() === ""; });
  confirm.addEventListener("click", () => act(c.case, "deny", { why: why.value.trim() }, li));
  actions.append(approve, deny, why, confirm);
  li.append(actions);
  if (c.case === focusCase && focusAction === "deny") { why.hidden = false; confirm.hidden = false; }
  return li;
}

let busy = false;

async function act(id, action, body, li) {
  busy = true;
  for (const b of li.querySelectorAll("button")) b.disabled = true;
  let message;
  try {
    const c = await api("POST", "/v1/cases/" + encodeURIComponent(id) + "/" + action, body);
    message = id + " " + (action === "approve" ? "approved" : "denied") + ": " + c.state;
  } catch (e) {
    message = id + ": " + e.message;
  }
  try { await load(); } finally { busy = false; }
  // Said once the list shows the result.
  $("status").textContent = message;
}

// The periodic refresh must not wipe a reason being typed or race an action.
function editing() {
  return busy || [...document.querySelectorAll("textarea.why")].some(t => !t.hidden);
}

async function load() {
  const data = await api("GET", "/v1/inbox");
  const list = $("cases");
  list.replaceChildren(...data.cases.map(renderCase));
  $("empty").hidden = data.cases.length > 0;
  const focused = focusCase && document.getElementById("case-" + focusCase);
  if (focused) focused.scrollIntoView();
}

async function start() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return;
  try {
    const me = await api("GET", "/v1/me");
    if (me.kind !== "approver") throw new Error("this token is not an approver's");
    $("who").textContent = "Signed in as " + me.id;
    $("login").hidden = true;
    $("inbox").hidden = false;
    $("logout").hidden = false;
    await load();
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("login-error").textContent = "Sign-in failed: " + e.message;
  }
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  start();
});
$("logout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); location.reload(); });
setInterval(() => { if (!$("inbox").hidden && !editing()) load().catch(() => {}); }, 5000);
start();
