// The approver inbox (and the questions a deferral asks the person an action is for). Everything shown comes from the API and is set as text (textContent),
// never parsed as HTML. The token lives in this tab's sessionStorage only.
//
// The list follows the service's event stream (/v1/inbox/events) and is updated in place: a
// card is built once per case and only its read-only parts are replaced when the case changes,
// so focus, scroll, selection, an open confirmation and a half-typed deny reason survive.
"use strict";

const TOKEN_KEY = "aarm.token";
const params = new URLSearchParams(location.search);
const focusCase = params.get("case");
const focusAction = params.get("action");
// Confidence below this is flagged next to the risk badge.
const LOW_CONFIDENCE = 0.6;
// Values longer than this are folded behind "Show all".
const FOLD_CHARS = 400;

let me = null;
const cards = new Map(); // case id -> card state
const questionCards = new Map(); // case id -> question card state (questions only I answer)
let scrolledToFocus = false;
let openedFocusAction = false;

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

// --- talking to the service -------------------------------------------------------------

class ApiError extends Error {
  constructor(reason, message, status) { super(message); this.reason = reason; this.status = status; }
}

function authHeaders() {
  return { "Authorization": "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
}

async function api(method, path, body) {
  const headers = authHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (_) {
    throw new ApiError("unreachable", "the approval service cannot be reached", 0);
  }
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok) {
    const reason = data && typeof data.reason === "string" ? data.reason : "http_" + res.status;
    throw new ApiError(reason, data && typeof data.message === "string" ? data.message : "", res.status);
  }
  return data;
}

// Reason codes in plain words (the code stays visible, for support).
const REFUSALS = {
  unreachable: "The approval service cannot be reached. Nothing was recorded; try again when the connection is back.",
  duplicate_approval: "You already approved this case; your approval counts once.",
  case_resolved: "This case was already closed by someone else; your action was not recorded.",
  self_approval: "You asked for this action yourself, so you cannot approve it.",
  not_an_approver: "You are not (or no longer) an approver of this case.",
  not_yourself: "The service refused to record this under your name.",
  unknown_case: "This case does not exist.",
  unauthenticated: "Your sign-in is no longer valid: sign in again.",
  no_question: "This question is closed: it was answered, or the case ended.",
  not_the_requester: "Only the person the action is for can answer this question.",
};

function refusal(e) {
  const words = REFUSALS[e.reason] || ("The service refused: " + (e.message || e.reason) + ".");
  return words + (e.reason && e.reason !== "unreachable" ? " (" + e.reason + ")" : "");
}

// --- words and times -------------------------------------------------------------------------

function orDash(v) { return v === null || v === undefined || v === "" ? "—" : String(v); }

function when(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

function clock(t) {
  const d = new Date(t);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function span(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return s + " s";
  const m = Math.round(s / 60);
  if (m < 90) return m + " min";
  const h = Math.round(m / 60);
  if (h < 48) return h + " h";
  return Math.round(h / 24) + " days";
}

function ago(t) { return span(Date.now() - t) + " ago"; }
function until(t) { const ms = t - Date.now(); return ms >= 0 ? "in " + span(ms) : span(ms) + " overdue"; }

// `<time>` elements carry the instant; their text is refreshed every half minute.
function timeEl(iso, relative) {
  const t = when(iso);
  if (t === null) return el("span", {}, orDash(iso));
  const node = el("time", { datetime: new Date(t).toISOString(), data: { rel: relative } });
  node.title = new Date(t).toISOString();
  refreshTime(node);
  return node;
}

function refreshTime(node) {
  const t = Date.parse(node.getAttribute("datetime"));
  const rel = node.dataset.rel === "until" ? until(t) : ago(t);
  node.textContent = clock(t) + " (" + rel + ")";
}

function approverSet(s) {
  if (!s) return "—";
  if (s.role) return "anyone with the role " + s.role;
  return (s.approvers || []).join(", ") || "—";
}

// What happens when nobody decides in time, without the policy's keywords.
function thenWords(onTimeout, nextStep) {
  switch (onTimeout) {
    case "deny": return "then it is denied";
    case "allow": return "then it is allowed";
    case "cancel": return "then it is cancelled";
    case "step_up": return "then it goes to " + approverSet(nextStep);
    default: return "then: " + orDash(onTimeout);
  }
}

function stateWords(state) {
  return ({
    pending_approval: "waiting for approval",
    pending_evidence: "waiting for evidence",
    allowed: "allowed",
    modified: "allowed with changes",
    denied: "denied",
    cancelled: "cancelled",
  })[state] || state;
}

function actionName(c) {
  return c.action.tool + (c.action.operation ? "." + c.action.operation : "");
}

// --- one card per case -------------------------------------------------------------------------

// A value that may be long: folded, with a button to show it all.
function foldable(text, label) {
  const pre = el("pre", { class: "value" });
  if (text.length <= FOLD_CHARS) { pre.textContent = text; return pre; }
  const wrap = el("div", { class: "fold" });
  pre.textContent = text.slice(0, FOLD_CHARS) + "…";
  const more = el("button", { type: "button", class: "more", "aria-expanded": "false" },
    "Show all", el("span", { class: "vh" }, " of " + label), " (" + text.length + " characters)");
  more.addEventListener("click", () => {
    const open = more.getAttribute("aria-expanded") !== "true";
    pre.textContent = open ? text : text.slice(0, FOLD_CHARS) + "…";
    more.setAttribute("aria-expanded", String(open));
    more.firstChild.textContent = open ? "Show less" : "Show all";
  });
  wrap.append(pre, more);
  return wrap;
}

function row(dl, label, value, cls) {
  dl.append(el("dt", {}, label));
  const dd = el("dd", cls ? { class: cls } : {});
  if (value instanceof Node) dd.append(value); else dd.textContent = orDash(value);
  dl.append(dd);
}

function riskBadge(risk) {
  return el("span", { class: "badge risk risk-" + risk }, "risk " + risk);
}

function confidenceOf(c) {
  return c.confidence === null || c.confidence === undefined ? null : Number(c.confidence);
}

function header(item) {
  const c = item.context;
  const h = el("h2", { id: "title-" + c.case });
  h.append(riskBadge(c.risk));
  const conf = confidenceOf(c);
  if (conf !== null && conf < LOW_CONFIDENCE) {
    h.append(el("span", { class: "badge lowconf" }, "low confidence " + Math.round(conf * 100) + "%"));
  }
  if (c.source === "defer_escalation") h.append(el("span", { class: "badge defer" }, "escalated deferral"));
  h.append(el("span", { class: "name" }, actionName(c)), " ", el("span", { class: "id" }, c.case));
  return h;
}

function details(item) {
  const c = item.context;
  const dl = el("dl", { class: "details" });
  row(dl, "Original request", c.original_request);
  const json = JSON.stringify(c.action.params, null, 2);
  row(dl, "Parameters", foldable(json, "the parameters of " + c.case));
  const prior = (c.prior_actions || []).map(a => a.tool + " → " + a.decision).join(", ");
  row(dl, "Prior actions", prior || "none");
  row(dl, "Data classes", (c.data_classes || []).join(", ") || "none flagged");
  const dist = c.semantic_distance;
  const drift = dist !== null && dist !== undefined && Number(dist) > 0.5;
  row(dl, "Semantic distance", dist === null || dist === undefined ? "not given" : String(dist) + (drift ? " (may have drifted from the request)" : ""), drift ? "drift" : "");
  row(dl, "Risk", c.risk);
  const conf = confidenceOf(c);
  row(dl, "Policy confidence", conf === null ? "not stated" : Math.round(conf * 100) + "%" + (conf < LOW_CONFIDENCE ? " (low: check the details)" : ""), conf !== null && conf < LOW_CONFIDENCE ? "drift" : "");
  const id = c.identity;
  row(dl, "Who asks", [orDash(id.human), orDash(id.service), orDash(id.agent)].join(" → ") + " (session " + orDash(id.session) + "; roles " + ((id.roles || []).join(", ") || "—") + ")");
  row(dl, "Matched rule", orDash(c.rule) + (c.rule_doc ? " — " + c.rule_doc : ""));
  row(dl, "Why it asks", orDash(c.reason) + " (" + orDash(c.reason_code) + ")");
  if (c.deferral) {
    const d = c.deferral;
    row(dl, "Why people decide", d.explanation);
    row(dl, "Evidence awaited", (d.awaited || []).join(", ") || "not recorded");
    row(dl, "Evidence missing", (d.missing || []).join(", ") || "none");
    row(dl, "Attempts", d.attempts + (d.max_attempts ? " of " + d.max_attempts : ""));
  }
  const set = c.approver_role ? "anyone with the role " + c.approver_role : (c.approvers || []).join(", ");
  row(dl, "Approvers", c.quorum + " of " + set + ((c.escalated_to || []).length ? "; also " + c.escalated_to.join(", ") + " (escalated)" : ""));
  row(dl, "Approved so far", approvedSoFar(item));
  if (c.evidence && Object.keys(c.evidence).length) row(dl, "Evidence", foldable(JSON.stringify(c.evidence, null, 2), "the evidence of " + c.case));
  row(dl, "Opened", timeEl(c.opened_at, "ago"));
  const next = item.case.decision && item.case.decision.step_up ? item.case.decision.step_up.on_timeout : null;
  const nextStep = next && typeof next === "object" ? next.step_up : null;
  const dd = el("span", {});
  if (c.deadline) dd.append(timeEl(c.deadline, "until"), ", ");
  dd.append(thenWords(c.on_timeout, nextStep));
  row(dl, "Deadline", dd);
  row(dl, "Policy", c.policy);
  return dl;
}

function approvedSoFar(item) {
  const list = (item.case.approvals || []);
  if (!list.length) return "nobody";
  return list.map(a => a.by + " at " + clock(a.at * 1000)).join(", ");
}

function mine(item) {
  return me && (item.case.approvals || []).find(a => a.by === me.id);
}

// The action with its short parameters, as a sentence can carry it: "payout (amount 990,000,
// to acme-holdings)". Long or nested values are left to the card.
function actionSummary(c) {
  const parts = [];
  for (const [k, v] of Object.entries(c.action.params || {})) {
    if (typeof v === "number") parts.push(k + " " + v.toLocaleString("en-US"));
    else if (typeof v === "string" && v.length <= 60) parts.push(k + " " + v);
    else if (typeof v === "boolean") parts.push(k + " " + v);
    if (parts.length === 4) break;
  }
  return actionName(c) + (parts.length ? " (" + parts.join(", ") + ")" : "");
}

// What an approval would do now, said before it is sent.
function approveEffect(item) {
  const c = item.context;
  const have = (item.case.approvals || []).length;
  if (have + 1 >= c.quorum) {
    return "Your approval releases " + actionSummary(c) + " now: the agent runs it as shown above.";
  }
  return "Your approval is " + (have + 1) + " of " + c.quorum + ". " + (c.quorum - have - 1) + " more approval(s) are needed before " + actionSummary(c) + " runs.";
}

function denyEffect(item) {
  const s = item.case.decision && item.case.decision.step_up;
  if (!s || s.veto !== false) return "Your denial blocks " + actionSummary(item.context) + " now: the agent is told it may not run.";
  return "Your denial is recorded; the case stays open for the other approvers (this rule has no veto).";
}

function buildCard(item) {
  const id = item.context.case;
  const li = el("li", { class: "case", id: "case-" + id, data: { case: id } });
  const st = { li, item, head: null, dl: null, note: el("p", { class: "note", hidden: "" }) };
  const result = el("p", { class: "result", role: "status" });
  const actions = el("div", { class: "actions" });
  const approve = el("button", { type: "button", class: "approve", data: { action: "approve" } }, "Approve", el("span", { class: "vh" }, " " + actionName(item.context) + " " + id));
  const deny = el("button", { type: "button", class: "deny", data: { action: "deny" } }, "Deny…", el("span", { class: "vh" }, " " + actionName(item.context) + " " + id));
  const waiting = el("p", { class: "waiting", hidden: "" });

  const confirmBox = el("div", { class: "confirm", role: "group", "aria-labelledby": "effect-" + id, hidden: "" });
  const effect = el("p", { id: "effect-" + id, class: "effect" });
  const yes = el("button", { type: "button", class: "confirm-approve" }, "Confirm approval");
  const no = el("button", { type: "button", class: "cancel" }, "Cancel");
  confirmBox.append(effect, el("div", { class: "buttons" }, yes, no));

  const denyBox = el("div", { class: "deny-form", role: "group", "aria-labelledby": "deny-effect-" + id, hidden: "" });
  const denyEffectP = el("p", { id: "deny-effect-" + id, class: "effect" });
  const why = el("textarea", { id: "why-" + id, class: "why", rows: "3" });
  const whyLabel = el("label", { for: "why-" + id }, "Why do you deny it? (required, shown in the audit trail)");
  const confirmDeny = el("button", { type: "button", class: "confirm-deny", disabled: "" }, "Confirm deny");
  const noDeny = el("button", { type: "button", class: "cancel" }, "Cancel");
  denyBox.append(denyEffectP, whyLabel, why, el("div", { class: "buttons" }, confirmDeny, noDeny));

  actions.append(approve, deny, waiting);
  li.append(st.note, actions, confirmBox, denyBox, result);
  Object.assign(st, { result, actions, approve, deny, waiting, confirmBox, effect, yes, denyBox, denyEffectP, why, confirmDeny });

  const closeAll = (back) => { confirmBox.hidden = true; denyBox.hidden = true; if (back) back.focus(); };
  approve.addEventListener("click", () => {
    denyBox.hidden = true;
    effect.textContent = approveEffect(st.item);
    confirmBox.hidden = false;
    yes.focus();
  });
  no.addEventListener("click", () => closeAll(approve));
  deny.addEventListener("click", () => {
    confirmBox.hidden = true;
    denyEffectP.textContent = denyEffect(st.item);
    denyBox.hidden = false;
    why.focus();
  });
  noDeny.addEventListener("click", () => closeAll(deny));
  why.addEventListener("input", () => { confirmDeny.disabled = why.value.trim() === ""; });
  li.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape") return;
    if (!denyBox.hidden) closeAll(deny); else if (!confirmBox.hidden) closeAll(approve);
  });
  yes.addEventListener("click", () => act(st, "approve", undefined));
  confirmDeny.addEventListener("click", () => act(st, "deny", { why: why.value.trim() }));
  return st;
}

// Replaces only the read-only parts; the controls (and what is typed into them) stay.
function updateCard(st, item) {
  // Unchanged cases are not touched at all: a text selection in them survives the update.
  const sig = JSON.stringify(item);
  if (st.sig === sig && st.dl) return;
  st.sig = sig;
  st.item = item;
  const c = item.context;
  st.li.className = "case risk-" + c.risk + (c.case === focusCase ? " focus" : "");
  st.li.dataset.risk = c.risk;
  const head = header(item);
  if (st.head) st.head.replaceWith(head); else st.li.prepend(head);
  st.head = head;
  const dl = details(item);
  if (st.dl) st.dl.replaceWith(dl); else head.after(dl);
  st.dl = dl;
  const mineNow = mine(item);
  if (mineNow) {
    const left = c.quorum - (item.case.approvals || []).length;
    st.waiting.textContent = "You approved this at " + clock(mineNow.at * 1000) + ". Waiting for others: " + left + " more approval(s) needed.";
    st.waiting.hidden = false;
    st.approve.hidden = true;
    st.confirmBox.hidden = true;
  } else {
    st.waiting.hidden = true;
    st.approve.hidden = false;
  }
  if (!st.confirmBox.hidden) st.effect.textContent = approveEffect(item);
  if (!st.denyBox.hidden) st.denyEffectP.textContent = denyEffect(item);
}

// The case left the inbox (someone decided, it timed out, or it is no longer yours): say how
// it ended in the card, and take its controls away.
async function closeCard(st, ownResult) {
  if (st.closed) return;
  st.closed = true;
  keepInPlace(() => {
    st.li.classList.add("closed");
    st.actions.hidden = true;
    st.confirmBox.hidden = true;
    st.denyBox.hidden = true;
  });
  let text;
  try {
    const c = await api("GET", "/v1/cases/" + encodeURIComponent(st.item.context.case));
    text = outcomeLine(c);
    // The details as they were when it closed (who approved, when), not as last listed.
    st.item = Object.assign({}, st.item, { case: c });
    keepInPlace(() => { const dl = details(st.item); st.dl.replaceWith(dl); st.dl = dl; });
  } catch (e) {
    text = "This case is no longer waiting for you.";
  }
  const dismiss = el("button", { type: "button", class: "dismiss" }, "Dismiss", el("span", { class: "vh" }, " " + st.item.context.case));
  dismiss.addEventListener("click", () => { cards.delete(st.item.context.case); st.li.remove(); showCounts(); });
  keepInPlace(() => {
    st.note.textContent = ownResult ? ownResult + " " + text : text;
    st.note.hidden = false;
    st.note.append(" ", dismiss);
    showCounts();
  });
}

function outcomeLine(c) {
  const o = c.outcome_summary;
  if (!o) return "This case is " + stateWords(c.state) + ".";
  const t = when(o.at);
  const at = t === null ? "" : " at " + clock(t) + " (" + ago(t) + ")";
  const verdict = o.decision === "allow" ? "approved" : o.decision === "modify" ? "approved with changes" : "denied";
  let who;
  if (o.by && o.by.length) who = o.by.join(" and ") + " " + (o.reason_code === "vetoed" ? "denied" : "approved") + " this" + at + ".";
  else if (o.reason_code === "timeout") who = "Nobody decided in time" + at + ".";
  else who = "The policy decided" + at + ".";
  return "Closed: " + verdict + ". " + who + (o.why ? " Reason given: " + o.why : "");
}

async function act(st, action, body) {
  const id = st.item.context.case;
  const buttons = [...st.li.querySelectorAll(".confirm button, .deny-form button, .actions button")];
  for (const b of buttons) b.disabled = true;
  st.result.className = "result";
  st.result.textContent = action === "approve" ? "Recording your approval…" : "Recording your denial…";
  try {
    // A late action: someone else may have closed the case since it was shown.
    const now = await api("GET", "/v1/cases/" + encodeURIComponent(id));
    if (now.resolved) {
      st.result.textContent = "Not sent: this case was closed before your action; nothing was recorded in your name.";
      await closeCard(st);
      return;
    }
    const c = await api("POST", "/v1/cases/" + encodeURIComponent(id) + "/" + action, body);
    const done = action === "approve"
      ? (c.resolved ? "You approved it: " + actionName(st.item.context) + " is released." : "Your approval is recorded; waiting for others.")
      : (c.resolved ? "You denied it: " + actionName(st.item.context) + " will not run." : "Your denial is recorded; the case stays open for the others.");
    st.result.textContent = done;
    st.confirmBox.hidden = true;
    st.denyBox.hidden = true;
    if (c.resolved) await closeCard(st, done);
    else { st.item.case = c; updateCard(st, st.item); }
  } catch (e) {
    st.result.className = "result error";
    st.result.setAttribute("role", "alert");
    st.result.textContent = "Not recorded. " + refusal(e);
  } finally {
    for (const b of buttons) b.disabled = false;
    st.confirmDeny.disabled = st.why.value.trim() === "";
  }
}

// --- questions to the requesting human -----------------------------------------------------------

// A deferral asks the person the action is for (a `confirm` source): the question in the rule's
// words, the action, and Confirm / Decline. The answer goes to /v1/cases/{id}/confirm.
function questionCard(item) {
  const c = item.context;
  const q = c.question;
  const id = c.case;
  const li = el("li", { class: "question", id: "question-" + id, data: { question: id } });
  const h = el("h3", { id: "qtitle-" + id }, q.text || "May the agent go ahead?");
  const dl = el("dl", { class: "details" });
  row(dl, "Action", actionSummary(c));
  row(dl, "Parameters", foldable(JSON.stringify(c.action.params, null, 2), "the parameters of " + id));
  row(dl, "Original request", c.original_request);
  row(dl, "Asked by", orDash(c.identity.agent) + (c.identity.service ? " (" + c.identity.service + ")" : "") + ", acting for you");
  const deadline = el("span", {});
  if (q.deadline) deadline.append(timeEl(q.deadline, "until"), ", ");
  deadline.append(q.on_timeout === "step_up" ? "then it goes to approvers" : thenWords(q.on_timeout, null));
  row(dl, "Deadline", deadline);
  row(dl, "Case", id);
  const yes = el("button", { type: "button", class: "confirm-answer", data: { answer: "confirm" } }, "Confirm", el("span", { class: "vh" }, " " + actionName(c) + " " + id));
  const no = el("button", { type: "button", class: "decline-answer", data: { answer: "decline" } }, "Decline", el("span", { class: "vh" }, " " + actionName(c) + " " + id));
  const result = el("p", { class: "result", role: "status" });
  li.append(h, dl, el("div", { class: "actions" }, yes, no), result);
  const st = { li, item, result, yes, no };
  yes.addEventListener("click", () => answer(st, "confirm"));
  no.addEventListener("click", () => answer(st, "decline"));
  return st;
}

async function answer(st, choice) {
  const id = st.item.context.case;
  st.yes.disabled = true;
  st.no.disabled = true;
  st.result.className = "result";
  st.result.setAttribute("role", "status");
  st.result.textContent = "Sending your answer…";
  try {
    const c = await api("POST", "/v1/cases/" + encodeURIComponent(id) + "/confirm", { answer: choice });
    const said = choice === "confirm" ? "You confirmed " : "You declined ";
    $("answered").textContent = said + actionSummary(st.item.context) + " (" + id + "): it is now " + stateWords(c.state) + ".";
    $("answered").hidden = false;
    keepInPlace(() => { questionCards.delete(id); st.li.remove(); showQuestions(); });
  } catch (e) {
    st.result.className = "result error";
    st.result.setAttribute("role", "alert");
    // A question closed meanwhile (answered elsewhere, or its case ended) is said as such.
    const closed = e.reason === "case_resolved" || e.reason === "no_question";
    st.result.textContent = "Not recorded. " + (closed ? REFUSALS.no_question + " (" + e.reason + ")" : refusal(e));
    st.yes.disabled = false;
    st.no.disabled = false;
  }
}

// Questions are listed while open: answered (here or elsewhere) or ended, they leave the list.
function renderQuestions(list) {
  const ol = $("questions");
  const seen = new Set();
  list.forEach((item, i) => {
    const id = item.context.case;
    seen.add(id);
    let st = questionCards.get(id);
    if (!st) {
      st = questionCard(item);
      questionCards.set(id, st);
    }
    st.item = item;
    st.li.classList.toggle("focus", id === focusCase);
    const at = ol.children[i];
    if (at !== st.li) ol.insertBefore(st.li, at || null);
  });
  for (const [id, st] of questionCards) {
    if (!seen.has(id)) { st.li.remove(); questionCards.delete(id); }
  }
  showQuestions();
}

function showQuestions() {
  $("questions-box").hidden = questionCards.size === 0;
  showCounts();
}

// --- the list --------------------------------------------------------------------------------

function showCounts() {
  const levels = ["critical", "high", "medium", "low"];
  const open = [...cards.values()].filter(s => !s.closed);
  const counts = $("counts");
  counts.replaceChildren();
  for (const l of levels) {
    const n = open.filter(s => s.item.context.risk === l).length;
    counts.append(el("span", { class: "count risk-" + l, data: { risk: l } }, n + " " + l));
  }
  $("empty").hidden = open.length > 0 || questionCards.size > 0;
}

// What the approver is looking at: the focused control, else the first card on screen.
function anchorNode() {
  const a = document.activeElement;
  if (a && a !== document.body && $("cases").contains(a)) return a;
  return [...$("cases").children].find(li => li.getBoundingClientRect().bottom > 0) || null;
}

// Runs `mutate`, then scrolls by however far it moved the anchor: cards added, removed or grown
// above it do not move what the approver reads or types into.
function keepInPlace(mutate) {
  const anchor = anchorNode();
  const before = anchor ? anchor.getBoundingClientRect().top : 0;
  mutate();
  if (anchor && anchor.isConnected) {
    const moved = anchor.getBoundingClientRect().top - before;
    if (Math.abs(moved) >= 1) window.scrollBy(0, moved);
  }
}

function render(data) {
  keepInPlace(() => { renderQuestions(data.questions || []); renderList(data); });
  // A link to a question shows it with the answer it names focused: a link never answers.
  if (!scrolledToFocus && focusCase && questionCards.has(focusCase)) {
    scrolledToFocus = true;
    const st = questionCards.get(focusCase);
    st.li.scrollIntoView();
    if (focusAction === "confirm") st.yes.focus();
    else if (focusAction === "decline") st.no.focus();
  }
  if (!scrolledToFocus && focusCase && cards.has(focusCase)) {
    scrolledToFocus = true;
    cards.get(focusCase).li.scrollIntoView();
  }
  if (!openedFocusAction && focusCase && cards.has(focusCase) && (focusAction === "approve" || focusAction === "deny")) {
    openedFocusAction = true;
    const st = cards.get(focusCase);
    (focusAction === "approve" ? st.approve : st.deny).click();
  }
}

function renderList(data) {
  const list = $("cases");
  const seen = new Set();
  data.cases.forEach((item, i) => {
    const id = item.context.case;
    seen.add(id);
    let st = cards.get(id);
    if (!st || st.closed) {
      if (st) st.li.remove();
      st = buildCard(item);
      cards.set(id, st);
    }
    updateCard(st, item);
    // Reorder by moving the others, never the card being worked in when avoidable.
    const at = list.children[i];
    if (at !== st.li) list.insertBefore(st.li, at || null);
  });
  for (const [id, st] of cards) {
    if (!seen.has(id) && !st.closed) closeCard(st);
  }
  showCounts();
}

// A link to a case that is not (or no longer) in the inbox: how it ended, or why it is not shown.
async function showLinkedCase() {
  if (!focusCase || cards.has(focusCase) || questionCards.has(focusCase)) return;
  const box = $("outcome");
  const dl = $("outcome-details");
  dl.replaceChildren();
  $("outcome-title").textContent = "Case " + focusCase;
  try {
    const c = await api("GET", "/v1/cases/" + encodeURIComponent(focusCase));
    const o = c.outcome_summary;
    const action = c.request && c.request.action ? c.request.action : {};
    row(dl, "Action", orDash(action.tool) + (action.operation ? "." + action.operation : ""));
    row(dl, "State", stateWords(c.state));
    if (o) {
      row(dl, "Outcome", outcomeLine(c));
      row(dl, "Decided by", (o.by || []).join(", ") || (o.reason_code === "timeout" ? "nobody (it timed out)" : "the policy"));
      row(dl, "When", timeEl(o.at, "ago"));
      row(dl, "Reason", orDash(o.reason) + " (" + orDash(o.reason_code) + ")");
      if (o.why) row(dl, "Reason given", o.why);
    } else {
      row(dl, "Outcome", "not decided yet, and not waiting for you");
    }
  } catch (e) {
    row(dl, "Outcome", e.status === 403 || e.status === 404 ? "You cannot see this case, or it does not exist." : "Not loaded. " + refusal(e));
  }
  box.hidden = false;
}

// --- the event stream ------------------------------------------------------------------------

let retryMs = 1000;
let firstList = true;

function connection(ok, detail) {
  const conn = $("conn");
  conn.classList.toggle("lost", !ok);
  conn.textContent = ok ? "" : "Connection lost — retrying. The list may be out of date. " + (detail || "");
  conn.hidden = ok;
}

async function follow() {
  for (;;) {
    let lost = null;
    try {
      const res = await fetch("/v1/inbox/events", { headers: authHeaders() });
      if (res.status === 401) { signOut("Your sign-in is no longer valid: sign in again."); return; }
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let event = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (event === "inbox") {
            render(JSON.parse(data.join("\n")));
            connection(true);
            retryMs = 1000;
            if (firstList) { firstList = false; showLinkedCase(); }
          } else if (event === "error") {
            lost = data.join(" ");
          }
        }
      }
    } catch (e) {
      lost = "";
    }
    if (lost !== null) {
      connection(false, lost);
      await new Promise(r => setTimeout(r, retryMs));
      retryMs = Math.min(retryMs * 2, 5000);
    }
    // A stream that simply ended (the server's wait bound) is reopened at once.
  }
}

// --- signing in --------------------------------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (message) sessionStorage.setItem("aarm.message", message);
  location.reload();
}

async function start() {
  const msg = sessionStorage.getItem("aarm.message");
  if (msg) { $("login-error").textContent = msg; sessionStorage.removeItem("aarm.message"); }
  if (!sessionStorage.getItem(TOKEN_KEY)) return;
  try {
    me = await api("GET", "/v1/me");
    if (me.kind !== "approver") throw new ApiError("not_an_approver", "this token is not an approver's", 403);
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("login-error").textContent = "Sign-in failed. " + refusal(e);
    return;
  }
  $("who").textContent = "Signed in as " + me.id;
  $("login").hidden = true;
  $("inbox").hidden = false;
  $("logout").hidden = false;
  connection(true);
  follow();
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  start();
});
$("logout").addEventListener("click", () => signOut());
setInterval(() => { for (const t of document.querySelectorAll("time[data-rel]")) refreshTime(t); }, 30000);
start();
