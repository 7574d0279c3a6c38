// The hub console's page: polls /api/state, /api/rates, /api/timeline and /api/logs,
// streams /api/live (server-sent events), and posts start/stop/restart with the token.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 500;  // rows the live view keeps
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

let paused = false;
let source = null;
let shown = 0, sampled = 0, dropped = 0, liveRate = 0, liveQueue = 0;
let held = [];  // the newest MAX_ROWS events that came while paused
let heldCount = 0;

function text(s) { return document.createTextNode(s === undefined || s === null ? "" : String(s)); }
function cell(row, value, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.appendChild(text(value));
  row.appendChild(td);
  return td;
}
function message(s, ok) { $("message").textContent = s; $("message").className = ok ? "ok" : ""; }
function duration(ms) {
  if (ms === undefined || ms === null) return "";
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + (d || h || m ? m + "m " : "") + s + "s";
}
function exitText(e) {
  if (e === undefined || e === null) return "";
  if (typeof e !== "object") return String(e);
  return Object.keys(e).map((k) => k + " " + e[k]).join(", ");
}

// --- Modules -------------------------------------------------------------------------

function token() { return sessionStorage.getItem("hub-console-token") || ""; }

async function act(action, name) {
  message(action + " " + name + "…", true);
  const kind = name.includes(".") ? "/api/instances/" : "/api/modules/";
  try {
    const r = await fetch(kind + encodeURIComponent(name) + "/" + action, {
      method: "POST", headers: token() ? {"Authorization": "Bearer " + token()} : {}});
    const body = await r.json().catch(() => ({}));
    if (r.ok) message(action + " " + name + ": done", true);
    else message(action + " " + name + ": " + (body.error || r.status));
  } catch (e) {
    message(action + " " + name + ": " + e);
  }
  refreshState();
}

function button(label, name) {
  const b = document.createElement("button");
  b.textContent = label;
  b.dataset.action = label;
  b.dataset.module = name;
  b.addEventListener("click", () => act(label, name));
  return b;
}

function renderState(state) {
  const inspect = state.inspect, hub = inspect.hub || {};
  $("hub").textContent = "hub " + (hub.version || "") + " · pid " + (hub.pid || "") +
      " · up " + duration(hub.uptime_ms) + " · " + (hub.root || "");
  liveRate = state.console.live_rate; liveQueue = state.console.live_queue;
  const byModule = {};
  for (const i of inspect.instances || []) (byModule[i.name] = byModule[i.name] || []).push(i);
  const body = document.createElement("tbody");
  const names = [];
  for (const m of inspect.modules || []) {
    const instances = byModule[m.name] || [];
    const own = instances.find((i) => i.instance === m.name) || {};
    const row = document.createElement("tr");
    row.dataset.module = m.name;
    cell(row, m.name);
    cell(row, m.state + (m.enabled === false ? " (disabled)" : ""), "state state-" + m.state);
    cell(row, m.version);
    cell(row, m.level);
    cell(row, own.pid);
    cell(row, m.state === "up" && own.uptime_ms !== undefined ? duration(own.uptime_ms) : "");
    cell(row, own.restarts);
    cell(row, exitText(own.last_exit));
    cell(row, m.reason || m.service_off || own.reason);
    const buttons = cell(row, "", "actions");
    for (const a of ["start", "stop", "restart"]) buttons.appendChild(button(a, m.name));
    body.appendChild(row);
    for (const i of instances) {
      names.push(i.instance);
      if (i.instance === m.name) continue;
      const r = document.createElement("tr");
      r.className = "instance";
      r.dataset.instance = i.instance;
      cell(r, i.instance);
      cell(r, i.state, "state state-" + i.state);
      cell(r, ""); cell(r, "");
      cell(r, i.pid);
      cell(r, i.state === "running" ? duration(i.uptime_ms) : "");
      cell(r, i.restarts);
      cell(r, exitText(i.last_exit));
      cell(r, i.reason);
      cell(r, "", "actions").appendChild(button("stop", i.instance));
      body.appendChild(r);
    }
  }
  $("modules").replaceChild(body, $("modules").tBodies[0]);
  const select = $("log-name"), current = select.value;
  const known = Array.from(select.options).map((o) => o.value).join(" ");
  if (known !== names.join(" ")) {
    select.textContent = "";
    for (const n of names) select.appendChild(new Option(n, n, false, n === current));
    if (!known) refreshLog(true);  // the first list: show the first log at once
  }
}

async function refreshState() {
  try {
    const r = await fetch("/api/state");
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.status);
    renderState(body);
  } catch (e) {
    $("hub").textContent = "hub unreachable: " + e.message;
  }
}

// --- Live view -----------------------------------------------------------------------

function liveStatus() {
  const s = $("live-status");
  let t = (paused ? "paused (" + heldCount + " arrived meanwhile) · " : "") + shown +
      " events received (the table keeps the newest " + MAX_ROWS + ")";
  if (sampled || dropped) {
    t += " · " + (sampled + dropped) + " not shown: the live view shows at most " + liveRate +
         " events/s per browser and holds " + liveQueue +
         " for a browser that falls behind; beyond that it samples and counts" +
         " (" + sampled + " sampled, " + dropped + " dropped). The bus is not slowed.";
  } else {
    t += " · at most " + liveRate + " events/s per browser; beyond that the view samples " +
         "(and says so here), the bus is never slowed";
  }
  s.textContent = t;
  s.className = sampled || dropped ? "skipping" : "";
}

function row(e) {
  const r = document.createElement("tr");
  r.dataset.topic = e.topic;
  r.dataset.seq = e.seq;
  if (e.history) r.className = "history";
  cell(r, e.seq);
  cell(r, e.time.replace(/^.*T/, "").replace("Z", ""), "time").title = e.time;
  cell(r, e.topic);
  cell(r, e.source);
  cell(r, e.payload + (e.truncated ? " …" : ""), "payload");
  return r;
}

// Events are drawn in batches, at most every 100 ms: the newest MAX_ROWS of them.
let pending = [];
let drawing = null;
function addRow(e) {
  pending.push(e);
  if (pending.length > MAX_ROWS) pending.shift();
  ++shown;
  if (!drawing) drawing = setTimeout(draw, 100);
}
function draw() {
  drawing = null;
  const body = $("live").tBodies[0], fragment = document.createDocumentFragment();
  for (let i = pending.length - 1; i >= 0; --i) fragment.appendChild(row(pending[i]));
  pending = [];
  body.insertBefore(fragment, body.firstChild);
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  liveStatus();
}

function watch() {
  if (source) source.close();
  const q = new URLSearchParams();
  for (const p of $("pattern").value.split(/[ ,]+/)) if (p) q.append("pattern", p);
  const kind = $("history-kind").value, n = $("history-n").value.trim();
  if (kind && n) q.set(kind, n);
  source = new EventSource("/api/live?" + q.toString());
  source.addEventListener("hello", (m) => {
    const h = JSON.parse(m.data);
    liveRate = h.live_rate; liveQueue = h.live_queue;
    liveStatus();
  });
  source.addEventListener("event", (m) => {
    const e = JSON.parse(m.data);
    if (paused) { held.push(e); if (held.length > MAX_ROWS) held.shift(); ++heldCount; }
    else addRow(e);
  });
  source.addEventListener("skipped", (m) => {
    const s = JSON.parse(m.data);
    sampled += s.sampled; dropped += s.dropped;
    liveStatus();
  });
  source.addEventListener("history", (m) => {
    const h = JSON.parse(m.data);
    if (h.error) message("history: " + h.error);
  });
  source.onerror = () => {
    $("live-status").textContent = "live view: reconnecting…";
    // EventSource retries a dropped stream itself, but not a refused one (503: every
    // live view taken): ask again in a while.
    const refused = source;
    if (refused.readyState === EventSource.CLOSED)
      setTimeout(() => { if (source === refused) watch(); }, 2000);
  };
  source.onopen = () => liveStatus();
}

// --- Chart and timeline --------------------------------------------------------------

async function refreshChart() {
  let rates;
  try { rates = await (await fetch("/api/rates?seconds=300")).json(); } catch (e) { return; }
  const canvas = $("chart"), g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, left = 40, bottom = 18;
  g.clearRect(0, 0, W, H);
  const names = Object.keys(rates.modules);
  let max = 1;
  for (const n of names) for (const c of rates.modules[n]) max = Math.max(max, c);
  g.fillStyle = "#555"; g.font = "11px sans-serif";
  g.fillText(String(max), 2, 12); g.fillText("0", 2, H - bottom);
  g.fillText("-" + rates.seconds + " s", left, H - 4); g.fillText("now", W - 24, H - 4);
  const x = (i) => left + (W - left - 4) * i / (rates.seconds - 1);
  const y = (c) => H - bottom - (H - bottom - 8) * c / max;
  const legend = $("chart-legend");
  legend.textContent = "";
  names.forEach((n, k) => {
    const color = COLORS[k % COLORS.length];
    g.strokeStyle = color; g.beginPath();
    rates.modules[n].forEach((c, i) => (i ? g.lineTo(x(i), y(c)) : g.moveTo(x(i), y(c))));
    g.stroke();
    const span = document.createElement("span"), swatch = document.createElement("i");
    swatch.style.background = color;
    span.appendChild(swatch); span.appendChild(text(n));
    legend.appendChild(span);
  });
}

const UP = {started: 1, ready: 1};
const DOWN = {exited: 1, stopped: 1, failed: 1};

async function refreshTimeline() {
  let t;
  try { t = await (await fetch("/api/timeline")).json(); } catch (e) { return; }
  const names = Object.keys(t.services);
  const canvas = $("timeline"), row = 18, left = 120;
  canvas.height = Math.max(30, names.length * row + 20);
  const g = canvas.getContext("2d"), W = canvas.width;
  const now = Date.now(), span = 600000, x = (ms) => left + (W - left - 4) * (1 - (now - ms) / span);
  g.clearRect(0, 0, W, canvas.height);
  g.font = "11px sans-serif";
  names.forEach((n, k) => {
    const y = k * row + 4;
    g.fillStyle = "#222"; g.fillText(n, 2, y + 11);
    let state = "down", since = now - span;
    const paint = (until) => {
      g.fillStyle = state === "up" ? "#2ca02c" : state === "failed" ? "#d62728" : "#ccc";
      const a = Math.max(x(since), left), b = x(until);
      if (b > a) g.fillRect(a, y, b - a, row - 6);
    };
    for (const tr of t.services[n]) {
      const next = UP[tr.event] ? "up" : tr.event === "failed" ? "failed" : DOWN[tr.event] ? "down" : state;
      if (tr.event === "restarting" && tr.t > now - span) {
        g.fillStyle = "#000"; g.fillRect(x(tr.t), y - 2, 2, row - 2);
      }
      if (next !== state) { paint(tr.t); state = next; since = tr.t; }
    }
    paint(now);
  });
  g.fillStyle = "#555"; g.fillText("-10 min", left, canvas.height - 4);
  g.fillText("now", W - 24, canvas.height - 4);
}

// --- Log -------------------------------------------------------------------------------

async function refreshLog(force) {
  if (!force && !$("log-follow").checked) return;
  const name = $("log-name").value;
  if (!name) return;
  const q = new URLSearchParams({name: name, lines: $("log-lines").value || "100"});
  try {
    const r = await fetch("/api/logs?" + q.toString());
    const body = await r.text();
    const pre = $("log");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = r.ok ? body : (JSON.parse(body).error || body);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  } catch (e) { $("log").textContent = String(e); }
}

// --- Wiring ----------------------------------------------------------------------------

$("token").value = token();
$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("hub-console-token", $("token").value);
  message("token kept for this tab", true);
});
$("live-form").addEventListener("submit", (ev) => { ev.preventDefault(); watch(); });
$("pause").addEventListener("click", () => {
  paused = !paused;
  $("pause").textContent = paused ? "resume" : "pause";
  if (!paused) { for (const e of held) addRow(e); shown += heldCount - held.length; held = []; heldCount = 0; }
  liveStatus();
});
$("clear").addEventListener("click", () => {
  $("live").tBodies[0].textContent = ""; pending = []; shown = 0; sampled = 0; dropped = 0;
  liveStatus();
});
$("log-name").addEventListener("change", () => refreshLog(true));
$("log-lines").addEventListener("change", () => refreshLog(true));

refreshState();
watch();
refreshChart();
refreshTimeline();
setInterval(refreshState, 1000);
setInterval(refreshChart, 2000);
setInterval(refreshTimeline, 2000);
setInterval(() => refreshLog(false), 2000);
