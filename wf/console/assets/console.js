// wf console: the instances page and the instance page, on the operability API
// (SPEC §1b). Plain JavaScript, no build step: the browser runs this file as it is.
"use strict";

const STATUSES = ["RUNNING", "SUSPENDED", "PENDING", "STALLED", "COMPLETED", "FAILED", "TERMINATED"];
const TERMINAL = new Set(["COMPLETED", "FAILED", "TERMINATED", "CANCELED"]);
const state = { component: "dapr", timer: null, tokens: [] };
const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

class ApiError extends Error {
  constructor(status, code, message) { super(`${code} (${status}): ${message}`); this.status = status; this.code = code; }
}

// This run's key, put into the page by the server that served it: every call carries it
// (a custom header, which no other site's page can send; docs/security.md).
const CONSOLE_KEY = $('meta[name="wf-console-key"]').content;
function call(url, init = {}) {
  return fetch(url, { ...init, credentials: "omit", headers: { ...(init.headers || {}), "X-WF-Console-Key": CONSOLE_KEY } });
}

async function api(method, path, { query = null, body = undefined } = {}) {
  const url = new URL(`/v1.0/workflows/${encodeURIComponent(state.component)}${path}`, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== "" && v !== null && v !== undefined) url.searchParams.set(k, v);
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) { init.body = body; init.headers["Content-Type"] = "application/json"; }
  const resp = await call(url, init);
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new ApiError(resp.status, (data && data.errorCode) || "ERR_UNKNOWN", (data && data.message) || text);
  return data;
}

function notify(message, ok = false) {
  const box = $("#notice");
  box.textContent = message;
  box.className = ok ? "ok" : "";
  box.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { box.hidden = true; }, ok ? 3000 : 10000);
}

function badge(status) { return el("span", { class: `status s-${status}`, text: status }); }
function when(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : ""; }
function pretty(json) {
  if (json === undefined || json === null) return "—";
  try { return JSON.stringify(JSON.parse(json), null, 2); } catch { return String(json); }
}
function params() {
  const q = location.hash.split("?")[1] || "";
  return Object.fromEntries(new URLSearchParams(q));
}
function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }
function stopRefresh() { if (state.timer) { clearInterval(state.timer); state.timer = null; } }

// -- the instances page ---------------------------------------------------------------

function filtersOf(p) {
  const toIso = (v) => (v ? new Date(v.length === 16 ? `${v}:00Z` : v).toISOString() : "");
  return {
    status: p.status || "", name: p.name || "", instanceIDPrefix: p.prefix || "",
    createdFrom: toIso(p.from), createdTo: toIso(p.to),
  };
}

async function instancesPage() {
  const p = params();
  const pageSize = p.size || "50";
  const main = $("#main");
  const chosen = new Set((p.status || "").split(",").filter(Boolean));
  const form = el("form", { class: "filters", "aria-label": "Filter instances", onsubmit: (e) => { e.preventDefault(); apply(); } },
    el("label", {}, "Status", el("select", { name: "status", id: "f-status" },
      el("option", { value: "", text: "any" }),
      ...STATUSES.map((s) => el("option", { value: s, text: s, selected: chosen.size === 1 && chosen.has(s) })))),
    el("label", {}, "Workflow name", el("input", { name: "name", id: "f-name", value: p.name || "", autocomplete: "off" })),
    el("label", {}, "Instance ID prefix", el("input", { name: "prefix", id: "f-prefix", value: p.prefix || "", autocomplete: "off" })),
    el("label", {}, "Created from (UTC)", el("input", { name: "from", type: "datetime-local", id: "f-from", value: p.from || "" })),
    el("label", {}, "Created to (UTC)", el("input", { name: "to", type: "datetime-local", id: "f-to", value: p.to || "" })),
    el("label", {}, "Per page", el("select", { name: "size", id: "f-size" },
      ...["25", "50", "100", "500", "1000"].map((n) => el("option", { value: n, text: n, selected: n === pageSize })))),
    el("div", { class: "actions" },
      el("button", { class: "primary", type: "submit", id: "apply" }, "Apply"),
      el("label", { style: "flex-direction: row; align-items: center; gap: .3rem" },
        el("input", { type: "checkbox", id: "live", checked: p.live === "1", onchange: () => apply() }), "Live refresh")));

  function apply(extra = {}) {
    const f = new FormData(form);
    const q = new URLSearchParams();
    for (const [k, v] of f.entries()) if (v) q.set(k, v);
    if ($("#live", form).checked) q.set("live", "1");
    for (const [k, v] of Object.entries(extra)) if (v) q.set(k, v);
    state.tokens = [];
    go(`#/?${q}`);
  }

  const counts = el("ul", { class: "counts", "aria-label": "Instances per status" });
  const table = el("div", { class: "table-wrap" });
  const pager = el("nav", { class: "pager", "aria-label": "Pages" });
  const timing = el("p", { class: "muted", id: "list-timing" });
  const limits = el("section", { id: "limits", hidden: true, "aria-label": "Concurrency limits" });
  main.replaceChildren(el("h1", { text: "Workflow instances" }), form, counts, table, pager, timing, limits);
  // The deployment's concurrency limits (a Dapr Configuration's spec.workflow), if any:
  // the runs holding a slot now, and those waiting for one.
  call("/v1.0/concurrency").then((r) => (r.ok ? r.json() : null)).then((body) => {
    if (!body || !body.limits.length) return;
    limits.replaceChildren(el("h2", { text: "Concurrency limits" }), el("table", {},
      el("thead", {}, el("tr", {}, ...["Activity", "At most", "Running", "Waiting"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, body.limits.map((l) => el("tr", {},
        el("td", { text: l.activity === null ? "(all activities)" : l.activity }),
        el("td", { text: String(l.maxConcurrent) }), el("td", { text: String(l.running) }),
        el("td", { text: String(l.waiting) }))))));
    limits.hidden = false;
  }).catch(() => {});

  const filters = filtersOf(p);
  const started = performance.now();
  let page;
  try {
    page = await api("GET", "", { query: { ...filters, pageSize, continuationToken: p.token || "" } });
  } catch (e) { table.replaceChildren(el("p", { role: "alert", text: e.message })); return; }
  const fetched = performance.now() - started;
  const rows = page.instances.map((i) => el("tr", {},
    el("td", { class: "id" }, el("a", { href: `#/i/${encodeURIComponent(i.instanceID)}`, text: i.instanceID })),
    el("td", { text: i.workflowName }),
    el("td", {}, badge(i.runtimeStatus)),
    el("td", { text: when(i.createdAt) }),
    el("td", { class: "wide", text: when(i.lastUpdatedAt) }),
    el("td", { class: "wide id" }, i.parentInstanceID
      ? el("a", { href: `#/i/${encodeURIComponent(i.parentInstanceID)}`, text: i.parentInstanceID }) : "")));
  table.replaceChildren(el("table", { id: "instances" },
    el("caption", { class: "muted", style: "text-align:left", text: `${page.instances.length} shown` }),
    el("thead", {}, el("tr", {}, ...["Instance ID", "Workflow", "Status", "Created (UTC)"].map((h) => el("th", { scope: "col", text: h })),
      el("th", { scope: "col", class: "wide", text: "Last updated (UTC)" }), el("th", { scope: "col", class: "wide", text: "Parent" }))),
    el("tbody", {}, rows)));
  const drawn = performance.now() - started;
  timing.textContent = `${page.instances.length} instances listed and drawn in ${Math.round(drawn)} ms (the API's answer in ${Math.round(fetched)} ms)`;
  timing.dataset.ms = String(drawn);
  timing.dataset.fetchMs = String(fetched);
  timing.dataset.count = String(page.instances.length);

  const back = state.tokens.length > 0;
  pager.replaceChildren(
    el("button", { type: "button", id: "prev", disabled: !back, onclick: () => {
      const previous = state.tokens.pop();
      const q = new URLSearchParams(location.hash.split("?")[1] || "");
      if (previous) q.set("token", previous); else q.delete("token");
      location.hash = `#/?${q}`;
    } }, "← Newer"),
    el("button", { type: "button", id: "next", disabled: !page.continuationToken, onclick: () => {
      state.tokens.push(p.token || "");
      const q = new URLSearchParams(location.hash.split("?")[1] || "");
      q.set("token", page.continuationToken);
      location.hash = `#/?${q}`;
    } }, "Older →"));

  // Counts per status, for the same filters but the status (up to 200 each: a count
  // is a listing, and this page should not cost more than it shows).
  Promise.all(STATUSES.map(async (s) => {
    const r = await api("GET", "", { query: { ...filters, status: s, pageSize: "200" } });
    return [s, r.instances.length + (r.continuationToken ? "+" : "")];
  })).then((pairs) => counts.replaceChildren(...pairs.map(([s, n]) => el("li", {},
    el("button", { type: "button", "data-status": s, "aria-pressed": String(chosen.has(s)), onclick: () => {
      $("#f-status").value = chosen.has(s) ? "" : s; apply();
    } }, badge(s), ` ${n}`))))).catch((e) => counts.replaceChildren(el("li", { text: e.message })));

  stopRefresh();
  if (p.live === "1") {
    state.timer = setInterval(() => { if (location.hash.startsWith("#/?") || location.hash === "#/") route(true); }, 5000);
  }
}

// -- the instance page ----------------------------------------------------------------

async function history(id) {
  const events = [];
  let token = "";
  do {
    const page = await api("GET", `/${encodeURIComponent(id)}/history`, { query: { continuationToken: token } });
    events.push(...page.events);
    token = page.continuationToken || "";
  } while (token);
  return events;
}

function spansOf(events) {
  // One bar per scheduled task (start: scheduled; end: its result), per suspension,
  // and one mark per raised event.
  const spans = [];
  const byTask = new Map();
  let suspended = null;
  const last = events.length ? events[events.length - 1].timestamp : null;
  for (const e of events) {
    if (e.eventType === "TaskScheduled" || e.eventType === "TimerCreated" || e.eventType === "SubOrchestrationInstanceCreated") {
      const kind = e.eventType === "TaskScheduled" ? "activity" : e.eventType === "TimerCreated" ? "timer" : "child";
      const span = { kind, id: e.eventId, name: e.name || (kind === "timer" ? "timer" : ""), start: e.timestamp, end: null,
        input: e.input, child: e.instanceId, fireAt: e.fireAt, result: null, failure: null };
      byTask.set(e.eventId, span);
      spans.push(span);
    } else if (e.taskScheduledId !== undefined && byTask.has(e.taskScheduledId)) {
      const span = byTask.get(e.taskScheduledId);
      span.end = e.timestamp;
      span.result = e.result;
      span.failure = e.failureDetails || null;
    } else if (e.eventType === "EventRaised") {
      spans.push({ kind: "event", name: e.name, start: e.timestamp, end: e.timestamp, data: e.data });
    } else if (e.eventType === "ExecutionSuspended") {
      suspended = { kind: "suspended", name: "suspended", start: e.timestamp, end: null };
      spans.push(suspended);
    } else if (e.eventType === "ExecutionResumed" && suspended) {
      suspended.end = e.timestamp;
      suspended = null;
    }
  }
  for (const s of spans) if (s.end === null) { s.open = true; s.endShown = last; }
  // Retries: a call scheduled, with the same input, after a call of its name failed is a
  // further attempt of that one; any other call (a fan-out's, a later step's) is its own.
  const failed = new Map();
  for (const s of spans) if (s.kind === "activity" || s.kind === "child") {
    const prev = failed.get(s.name);
    s.attempt = prev && s.input === prev.input && s.start >= prev.end ? prev.attempt + 1 : 1;
    if (s.failure) failed.set(s.name, { attempt: s.attempt, input: s.input, end: s.end });
    else if (prev && s.input === prev.input) failed.delete(s.name);
  }
  return spans;
}

function describeSpan(s) {
  const ms = (a, b) => new Date(b) - new Date(a);
  const end = s.end || null;
  const lines = [`${s.kind}${s.name ? ` ${s.name}` : ""}${s.id !== undefined ? ` (task ${s.id})` : ""}${s.attempt > 1 ? `, attempt ${s.attempt}` : ""}`,
    `start ${when(s.start)}`, end ? `end ${when(end)} (${ms(s.start, end)} ms)` : "still open"];
  if (s.fireAt) lines.push(`fires ${when(s.fireAt)}`);
  if (s.child) lines.push(`child ${s.child}`);
  if (s.failure) lines.push(`error ${s.failure.errorType}: ${s.failure.message}`);
  else if (s.result !== null && s.result !== undefined) lines.push(`result ${s.result}`);
  if (s.data !== undefined && s.data !== null) lines.push(`data ${s.data}`);
  return lines.join("\n");
}

function timeline(events, detail) {
  const spans = spansOf(events);
  const box = el("div", { class: "timeline", id: "timeline", role: "list", "aria-label": "Timeline" });
  if (!events.length) return box;
  const t0 = new Date(events[0].timestamp).getTime();
  const t1 = Math.max(t0 + 1, ...spans.map((s) => new Date(s.end || s.endShown || s.start).getTime()),
    new Date(events[events.length - 1].timestamp).getTime());
  const pct = (t) => `${(((new Date(t).getTime() - t0) / (t1 - t0)) * 100).toFixed(3)}%`;
  box.append(el("div", { class: "axis", "aria-hidden": "true" }, el("span", { text: when(events[0].timestamp) }),
    el("span", { text: `${((t1 - t0) / 1000).toFixed(3)} s` })));
  const frag = document.createDocumentFragment();
  for (const s of spans) {
    const end = s.end || s.endShown || s.start;
    const named = s.kind === "activity" || s.kind === "child" || !s.name || s.name === s.kind ? "" : `${s.kind} `;
    const label = `${s.kind === "child" ? "child " : named}${s.name || s.kind}${s.id !== undefined ? ` #${s.id}` : ""}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ""}`;
    const text = describeSpan(s);
    const bar = el("button", {
      type: "button", class: `bar k-${s.kind}${s.failure ? " failed" : ""}${s.open ? " k-open" : ""}`,
      style: `left:${pct(s.start)};width:calc(${pct(end)} - ${pct(s.start)})`, title: text, "aria-label": text,
      "data-kind": s.kind, onclick: () => { detail.replaceChildren(el("pre", { text })); if (s.child) detail.append(el("a", { href: `#/i/${encodeURIComponent(s.child)}`, text: `open child ${s.child}` })); },
    });
    frag.append(el("div", { class: "lane", role: "listitem" }, el("span", { class: "label", title: label, text: label }),
      el("div", { class: "track" }, bar)));
  }
  box.append(frag);
  return box;
}

async function instancePage(id) {
  stopRefresh();
  const main = $("#main");
  const started = performance.now();
  let inst, events;
  try {
    [inst, events] = await Promise.all([api("GET", `/${encodeURIComponent(id)}`), history(id)]);
  } catch (e) {
    main.replaceChildren(el("h1", { text: id }), el("p", { role: "alert", text: e.message }), el("a", { href: "#/", text: "All instances" }));
    return;
  }
  const props = inst.properties || {};
  const status = inst.runtimeStatus;
  const cards = [
    ["Input", props["dapr.workflow.input"]], ["Output", props["dapr.workflow.output"]],
    ["Custom status", props["dapr.workflow.custom_status"]],
  ].map(([h, v]) => el("section", { class: "card" }, el("h3", { text: h }), el("pre", { text: h === "Custom status" && v ? v : pretty(v) })));
  if (props["dapr.workflow.failure.error_type"]) {
    cards.unshift(el("section", { class: "card failure", id: "failure" }, el("h3", { text: "Failure" }),
      el("p", {}, el("strong", { text: props["dapr.workflow.failure.error_type"] }), `: ${props["dapr.workflow.failure.error_message"] || ""}`),
      el("pre", { text: props["dapr.workflow.failure.stack_trace"] || "" })));
  }
  const children = events.filter((e) => e.eventType === "SubOrchestrationInstanceCreated");
  const detail = el("div", { id: "detail", "aria-live": "polite" });
  const tl = timeline(events, detail);
  const rows = events.map((e, n) => el("tr", {},
    el("td", { text: String(n) }), el("td", { text: e.eventId >= 0 ? String(e.eventId) : "" }), el("td", { text: when(e.timestamp) }),
    el("td", { text: e.eventType }), el("td", { text: e.appId ? `${e.name || ""} (app ${e.appId})` : e.name || "" }),
    el("td", { class: "id", text: e.failureDetails ? `${e.failureDetails.errorType}: ${e.failureDetails.message}`
      : (e.result ?? e.data ?? e.input ?? (e.taskScheduledId !== undefined ? `task ${e.taskScheduledId}` : "")) })));
  const scheduled = events.filter((e) => e.eventType === "TaskScheduled");
  main.replaceChildren(
    el("p", {}, el("a", { href: "#/", text: "← All instances" })),
    el("h1", {}, `${inst.workflowName} `, el("span", { class: "id", text: inst.instanceID }), " ", badge(status)),
    el("p", { class: "muted" }, `created ${when(inst.createdAt)} · updated ${when(inst.lastUpdatedAt)}`,
      el("span", { id: "parent-slot" }), el("span", { id: "waiting-slot" }),
      children.length ? el("span", {}, " · children ", ...children.map((c) => el("a", { class: "child", href: `#/i/${encodeURIComponent(c.instanceId)}`, text: `${c.instanceId} ` }))) : null),
    actions(inst, scheduled),
    el("div", { class: "grid" }, cards),
    el("h2", { text: `Timeline (${events.length} events)` }), tl, detail,
    el("h2", { text: "History" }),
    el("div", { class: "table-wrap" }, el("table", { id: "history" },
      el("thead", {}, el("tr", {}, ...["#", "Event ID", "Time (UTC)", "Type", "Name", "Result / data / error"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows))),
    el("p", { class: "muted", id: "instance-timing" }));
  const drawn = performance.now() - started;
  // The parent, from the listing (its rows name it), once the page is drawn.
  api("GET", "", { query: { instanceIDPrefix: id, pageSize: "1000" } }).then((listed) => {
    const row = listed.instances.find((i) => i.instanceID === id);
    if (row && row.parentInstanceID) $("#parent-slot").replaceChildren(" · parent ",
      el("a", { id: "parent", href: `#/i/${encodeURIComponent(row.parentInstanceID)}`, text: row.parentInstanceID }));
  }).catch(() => {});
  // Its tasks that wait for a concurrency slot (a Dapr Configuration's limits), if any.
  if (status === "RUNNING") call("/v1.0/concurrency").then((r) => (r.ok ? r.json() : null)).then((body) => {
    const waits = (body ? body.limits : []).flatMap((l) => (l.waitingRuns || []).filter((r) => r.instanceID === id)
      .map((r) => `task ${r.taskID} (limit of ${l.activity === null ? "all activities" : `'${l.activity}'`})`));
    if (waits.length) $("#waiting-slot").replaceChildren(` · waiting for a concurrency slot: ${waits.join(", ")}`);
  }).catch(() => {});
  const timing = $("#instance-timing");
  timing.textContent = `${events.length} events read and drawn in ${Math.round(drawn)} ms`;
  timing.dataset.ms = String(drawn);
  timing.dataset.count = String(events.length);
}

function actions(inst, scheduled) {
  const id = inst.instanceID;
  const terminal = TERMINAL.has(inst.runtimeStatus);
  const path = (a) => `/${encodeURIComponent(id)}/${a}`;
  async function run(label, fn, { confirmText = null, after = null } = {}) {
    if (confirmText && !window.confirm(confirmText)) return;
    try {
      const result = await fn();
      notify(`${label}: accepted`, true);
      if (after) after(result); else setTimeout(() => route(), 300);
    } catch (e) { notify(`${label} refused: ${e.message}`); }
  }
  const evName = el("input", { id: "event-name", required: true, placeholder: "approval", "aria-label": "Event name" });
  const evData = el("textarea", { id: "event-data", rows: 1, placeholder: "JSON data (optional)", "aria-label": "Event data (JSON)" });
  const rerunFrom = el("select", { id: "rerun-from", "aria-label": "Rerun from" },
    el("option", { value: "", text: "from the start" }),
    ...scheduled.map((e) => el("option", { value: String(e.eventId), text: `activity ${e.name} (task ${e.eventId})` })));
  const rerunInput = el("textarea", { id: "rerun-input", rows: 1, placeholder: "new input (JSON, optional)", "aria-label": "Rerun input (JSON)" });
  const body = (text) => (text.trim() ? text : undefined);
  return el("div", { class: "actions", id: "actions" },
    el("fieldset", {}, el("legend", { text: "Raise event" }), evName, evData,
      el("button", { type: "button", id: "raise", disabled: terminal, onclick: () => {
        if (!evName.value.trim()) { notify("Raise event: give the event's name"); evName.focus(); return; }
        run("Raise event", () => api("POST", `${path("raiseEvent")}/${encodeURIComponent(evName.value.trim())}`, { body: body(evData.value) }));
      } }, "Raise")),
    el("fieldset", {}, el("legend", { text: "Control" }),
      el("button", { type: "button", id: "pause", disabled: terminal, onclick: () => run("Pause", () => api("POST", path("pause"))) }, "Pause"),
      el("button", { type: "button", id: "resume", disabled: terminal, onclick: () => run("Resume", () => api("POST", path("resume"))) }, "Resume"),
      el("button", { type: "button", id: "terminate", class: "danger", disabled: terminal, onclick: () => run("Terminate",
        () => api("POST", path("terminate")), { confirmText: `Terminate ${id} and its children?` }) }, "Terminate")),
    el("fieldset", {}, el("legend", { text: "Rerun (terminal instances)" }), rerunFrom, rerunInput,
      el("button", { type: "button", id: "rerun", disabled: !terminal, onclick: () => run("Rerun", () => api("POST", path("rerun"), {
        query: { fromEventID: rerunFrom.value }, body: body(rerunInput.value),
      }), { confirmText: `Start a new instance from ${id}'s history${rerunFrom.value ? ` up to task ${rerunFrom.value}` : ""}?`,
        after: (r) => go(`#/i/${encodeURIComponent(r.instanceID)}`) }) }, "Rerun")),
    el("fieldset", {}, el("legend", { text: "Purge" }),
      el("button", { type: "button", id: "purge", class: "danger", disabled: !terminal, onclick: () => run("Purge",
        () => api("POST", path("purge")), { confirmText: `Delete ${id}, its history and its children, for good?`, after: () => go("#/") }) }, "Purge")));
}

// -- routing ----------------------------------------------------------------------------

async function route(refresh = false) {
  const hash = location.hash || "#/";
  if (hash.startsWith("#/i/")) {
    await instancePage(decodeURIComponent(hash.slice(4).split("?")[0]));
  } else {
    await instancesPage();
  }
  if (!refresh) $("#main").focus({ preventScroll: true });
  // What is drawn now (the tests wait on it; a screen reader's user hears the focus move).
  document.body.dataset.route = hash;
}

async function boot() {
  try {
    const meta = await (await call("/v1.0/metadata")).json();
    const component = (meta.components || []).find((c) => c.type === "workflow.dapr");
    if (component) state.component = component.name;
    $("#where").textContent = `${location.host} · component ${state.component}`;
  } catch (e) { notify(`The API cannot be reached: ${e.message}`); }
  window.addEventListener("hashchange", () => route());
  await route();
  document.body.dataset.ready = "1";
}

boot();
