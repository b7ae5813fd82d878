// xhep web UI: plain JavaScript, no build step, no dependencies.
// Views: search (#search=<query>) and call (#call=<callid>[&from=..&to=..]).
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

// ---- API access -----------------------------------------------------------

// mode: "accounts" (login sessions, the server's --accounts), "legacy"
// (--api-token in localStorage, or loopback without any), or "" before
// the first /session answer. me is GET /api/v1/session's body.
let mode = "";
let me = null;

function token() { return localStorage.getItem("xhep.token") || ""; }

function authHeaders(method) {
  const h = {};
  if (mode !== "accounts" && token()) h["Authorization"] = "Bearer " + token();
  if (mode === "accounts" && me && me.csrf && method !== "GET") h["X-CSRF-Token"] = me.csrf;
  return h;
}

async function api(path, opts = {}) {
  const method = opts.method || "GET";
  const headers = authHeaders(method);
  let body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  }
  const resp = await fetch(path, { method, headers, body, credentials: "same-origin" });
  if (resp.status === 401 && !opts.login) {
    let msg = "";
    try { msg = (await resp.json()).error || ""; } catch (e) { /* not JSON */ }
    if (mode === "accounts" || /login required/.test(msg)) {
      mode = "accounts";
      me = null;
      showLogin();
      throw new Error("please log in");
    }
    $("tokenform").hidden = false;
    throw new Error("the API needs a token: enter it above");
  }
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  if (opts.blob) return resp.blob();
  if (opts.text) return resp.text();
  return resp.json();
}

function status(msg) { $("status").textContent = msg || ""; }

$("tokenform").addEventListener("submit", (ev) => {
  ev.preventDefault();
  localStorage.setItem("xhep.token", $("token").value);
  $("tokenform").hidden = true;
  mode = "";
  route();
});

// loadSession learns the server's mode and who we are.
async function loadSession() {
  const resp = await fetch("/api/v1/session", { credentials: "same-origin", headers: token() ? { Authorization: "Bearer " + token() } : {} });
  let body = {};
  try { body = await resp.json(); } catch (e) { /* not JSON */ }
  if (resp.ok) {
    me = body;
    mode = body.accounts ? "accounts" : "legacy";
  } else if (resp.status === 401 && /login required/.test(body.error || "")) {
    mode = "accounts";
    me = null;
  } else {
    mode = "legacy";
    me = null;
  }
  updateNav();
}

// addHeaderFields adds a search field per configured --search-header
// (the session lists them), after the Diversion field; once each.
function addHeaderFields(list) {
  const after = $("searchform").querySelector('.fields input[name="diversion_user"]').parentElement;
  for (const h of (list || []).slice().reverse()) {
    if ($("searchform").querySelector(`.fields input[name="${h.param}"]`)) continue;
    const inp = el("input", { name: h.param, title: h.name + " header (--search-header; * is a wildcard, case-insensitive)" });
    after.after(el("label", { class: "hdrfield" }, h.name + " ", inp));
  }
}

// loadAliasNames fills the Host alias field's choices, once.
let aliasNamesLoaded = false;
async function loadAliasNames() {
  if (aliasNamesLoaded) return;
  aliasNamesLoaded = true;
  let res;
  try { res = await api("/api/v1/aliases"); } catch (e) { aliasNamesLoaded = false; return; }
  const names = [...new Set([...res.configured, ...res.stored].map((a) => a.name))].sort();
  $("aliasnames").replaceChildren(...names.map((n) => el("option", { value: n })));
}

function updateNav() {
  if (me && me.search_headers) addHeaderFields(me.search_headers);
  const on = mode === "accounts" && me;
  $("usernav").hidden = !on;
  $("saved").hidden = !on;
  if (!on) return;
  $("whoami").textContent = me.user + " (" + me.role + ")";
  $("whoami").title = "logged in via " + me.via + "; time zone " + ((me.settings && me.settings.tz) || "UTC");
  $("navadmin").hidden = me.role !== "admin";
  const ro = me.role === "read-only";
  $("pcap").hidden = ro;
  $("text").hidden = ro;
  $("textdl").hidden = ro;
  $("share").hidden = ro;
  $("sharettl").hidden = ro;
}

function can(role) {
  if (mode !== "accounts") return true;
  const rank = { "read-only": 1, operator: 2, admin: 3 };
  return !!me && rank[me.role] >= rank[role];
}

const views = ["login", "search", "call", "settings", "admin", "registrations"];
function show(view) { for (const v of views) $(v).hidden = v !== view; }

function showLogin() {
  show("login");
  updateNav();
  $("loginuser").focus();
}

$("loginform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("loginerr").textContent = "";
  try {
    me = await api("/api/v1/login", { method: "POST", login: true, json: { user: $("loginuser").value, password: $("loginpw").value } });
    mode = "accounts";
    $("loginpw").value = "";
    updateNav();
    route();
  } catch (e) {
    $("loginerr").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("/api/v1/logout", { method: "POST" }); } catch (e) { /* gone already */ }
  me = null;
  showLogin();
});

// ---- helpers ----------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") e.addEventListener("click", v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

function pad(n, w = 2) { return String(n).padStart(w, "0"); }

// The user's time zone ("" = UTC) for display and input; UTC is always
// on hover (title) beside a time.
function userTZ() { return (me && me.settings && me.settings.tz) || ""; }

const tzFormats = {};
// wallParts returns the wall-clock fields of ms in tz ("" = UTC) as
// zero-padded strings.
function wallParts(ms, tz) {
  if (!tz) {
    const d = new Date(ms);
    return { y: String(d.getUTCFullYear()), mo: pad(d.getUTCMonth() + 1), d: pad(d.getUTCDate()), h: pad(d.getUTCHours()), mi: pad(d.getUTCMinutes()), s: pad(d.getUTCSeconds()) };
  }
  const f = tzFormats[tz] || (tzFormats[tz] = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }));
  const p = {};
  for (const x of f.formatToParts(new Date(ms))) p[x.type] = x.value;
  return { y: p.year, mo: p.month, d: p.day, h: p.hour, mi: p.minute, s: p.second };
}

// fmtTime formats a time in microseconds since the epoch in the user's
// time zone (tz "" = UTC).
function fmtTime(us, withDate = true, tz = userTZ()) {
  const p = wallParts(Math.floor(us / 1000), tz);
  const t = p.h + ":" + p.mi + ":" + p.s + "." + pad(((us % 1000000) + 1000000) % 1000000, 6);
  return withDate ? p.y + "-" + p.mo + "-" + p.d + " " + t : t;
}

function fmtUTC(us) { return fmtTime(us, true, "") + " UTC"; }

// timeTd is a table cell with a time, UTC on hover.
function timeTd(us, withDate = true) { return el("td", { class: "mono time", title: fmtUTC(us) }, fmtTime(us, withDate)); }

function usOf(iso) { return Date.parse(iso) * 1000; }

function statusClass(s) {
  if (!s) return "req";
  if (s < 200) return "r1";
  if (s < 300) return "r2";
  return "r3";
}

function hostPort(ip, port) { return ip.includes(":") ? "[" + ip + "]:" + port : ip + ":" + port; }

function table(t, head, rows) {
  t.replaceChildren();
  if (!rows.length) {
    t.append(el("tbody", {}, el("tr", {}, el("td", { class: "empty" }, "none"))));
    return;
  }
  t.append(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))));
  const tb = el("tbody");
  for (const r of rows) tb.append(r);
  t.append(tb);
}

// datetime-local inputs hold wall time in the user's zone (UTC by
// default): "YYYY-MM-DDTHH:MM[:SS[.fff]]" — browsers drop the seconds
// when they are zero; the API takes any of it, zone-less times with tz=.
function toLocalInput(ms) {
  const p = wallParts(ms, userTZ());
  const base = p.y + "-" + p.mo + "-" + p.d + "T" + p.h + ":" + p.mi;
  const frac = ((ms % 1000) + 1000) % 1000;
  if (p.s === "00" && !frac) return base;
  return base + ":" + p.s + (frac ? "." + pad(frac, 3) : "");
}
function fromLocalInput(v) { return !v ? "" : userTZ() ? v : v + "Z"; }
// inputOf turns a time from a deep link (anything the API accepts) back
// into the input's form, or "" when it cannot be read. A zone-less time
// is already in the user's zone.
function inputOf(v) {
  if (/^\d+(\.\d+)?$/.test(v)) return toLocalInput(Number(v) * 1000);
  if (!/[zZ]|[+-]\d\d:\d\d$/.test(v)) {
    if (userTZ()) return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v) ? v.replace(" ", "T") : "";
    v += "Z";
  }
  const ms = Date.parse(v);
  return isNaN(ms) ? "" : toLocalInput(ms);
}

function showZone() {
  const tz = userTZ() || "UTC";
  $("timelegend").textContent = "Time (" + tz + ")";
  $("timelegend").title = "times are shown and typed in " + tz + "; hover a time for UTC";
}

// ---- search view --------------------------------------------------------------

function setRange() {
  const secs = Number($("range").value);
  if (!secs) return;
  const now = Math.floor(Date.now() / 1000) * 1000; // whole seconds, as the input shows them
  $("to").value = toLocalInput(now);
  $("from").value = toLocalInput(now - secs * 1000);
}
$("range").addEventListener("change", setRange);
for (const id of ["from", "to"]) $(id).addEventListener("input", () => { $("range").value = ""; });

function searchQuery() {
  const f = $("searchform");
  const q = new URLSearchParams();
  for (const inp of f.querySelectorAll(".fields input")) {
    if (inp.type === "checkbox") { if (inp.checked) q.set(inp.name, "1"); continue; }
    if (inp.value.trim() !== "") q.set(inp.name, inp.value.trim());
  }
  if ($("range").value) setRange();
  q.set("from", fromLocalInput($("from").value));
  q.set("to", fromLocalInput($("to").value));
  if (userTZ()) q.set("tz", userTZ());
  return q;
}

$("searchform").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const what = (ev.submitter && ev.submitter.value) || "calls";
  const q = searchQuery();
  q.set("what", what);
  location.hash = "search=" + encodeURIComponent(q.toString());
});

async function runSearch(qs, quiet) {
  const q = new URLSearchParams(qs);
  const what = q.get("what") || "calls";
  q.delete("what");
  for (const [k, v] of q) {
    const inp = $("searchform").querySelector(`.fields input[name="${k}"]`);
    if (inp) { if (inp.type === "checkbox") inp.checked = v === "1"; else inp.value = v; }
  }
  if (q.get("from")) { $("from").value = inputOf(q.get("from")); $("range").value = ""; }
  if (q.get("to")) $("to").value = inputOf(q.get("to"));
  status("searching…");
  const res = $("results");
  try {
    const body = await api(`/api/v1/${what}?` + q.toString());
    const rows = what === "calls" ? body.calls : body.messages;
    resultAliases = body.aliases || {};
    res.replaceChildren(toolbar(what, what === "calls" ? callColumns() : msgColumns(), rows, what),
      what === "calls" ? callsTable(body, q) : messagesTable(body, q), pager(body, q, what));
    res.dataset.refreshes = String(refresh.count);
    status("");
    // The chart above the grid is drawn before the search is done: it
    // moves the grid down (tests click the grid once done).
    await stats(q);
  } catch (e) {
    res.replaceChildren(el("p", { class: "empty" }, String(e.message)));
    status("");
  }
  res.dataset.done = qs; // the query shown (tests wait for it)
}

function pager(body, q, what) {
  const p = el("div", { class: "pager" });
  const n = (body.calls || body.messages).length;
  p.append(`${body.offset + (n ? 1 : 0)}–${body.offset + n} of ${body.total}`);
  const go = (off) => () => {
    const q2 = new URLSearchParams(q);
    q2.set("offset", String(Math.max(0, off)));
    q2.set("what", what);
    location.hash = "search=" + encodeURIComponent(q2.toString());
  };
  if (body.offset > 0) p.append(el("button", { onclick: go(body.offset - body.limit) }, "newer"));
  if (body.offset + n < body.total) p.append(el("button", { onclick: go(body.offset + body.limit) }, "older"));
  return p;
}

// callLink links a call's view. With its first and last time (ISO) the
// link carries a range around them, pad ms (default an hour) each side:
// the flow is looked for there, not in the API's lookback from now, which
// misses older and imported calls (and the deep link keeps the range).
function callLink(callid, first, last, pad = 3600e3) {
  const q = new URLSearchParams();
  q.set("call", callid);
  spanParams(q, Date.parse(first), Date.parse(last), pad);
  return "#" + q.toString();
}

// spanParams sets from/to of q to [first − pad, last + pad] (ms) when both
// are known.
function spanParams(q, first, last, pad = 3600e3) {
  if (isNaN(first) || isNaN(last)) return;
  q.set("from", new Date(first - pad).toISOString());
  q.set("to", new Date(last + pad).toISOString());
}

// ---- results grid: sortable columns, column chooser, CSV -------------------

// resultAliases names the addresses of the results shown (the search
// answer's aliases: IP → alias name, "IP:PORT" → name of a port alias).
let resultAliases = {};

// nameIn is the alias name of ip (and port) in an answer's aliases: the
// port alias ("IP:PORT") first, then the IP's; "" for none.
function nameIn(aliases, ip, port) {
  if (!aliases) return "";
  return (port !== undefined && port !== "" && port !== 0 && aliases[hostPort(ip, port)]) || aliases[ip] || "";
}

// addrText is an address in a grid: its alias name, else ip[:port]; with
// full, the name and the address ("sbc-1 10.0.0.10:5060").
function addrText(ip, port, full) {
  const a = port === "" ? ip : hostPort(ip, port);
  const n = nameIn(resultAliases, ip, port);
  return !n ? a : full ? n + " " + a : n;
}
// routeText is a route by names; both ends under one name (hosts of one
// subnet alias) keep their addresses too, so the route still says which.
function routeText(sip, sport, dip, dport, full) {
  const sn = nameIn(resultAliases, sip, sport);
  if (sn && sn === nameIn(resultAliases, dip, dport)) full = true;
  return addrText(sip, sport, full) + " → " + addrText(dip, dport, full);
}
// routeTd shows the route by alias names, the addresses on hover.
function routeTd(sip, sport, dip, dport) {
  const named = nameIn(resultAliases, sip, sport) || nameIn(resultAliases, dip, dport);
  return el("td", { class: "mono route" + (named ? " named" : ""), title: (sport === "" ? sip : hostPort(sip, sport)) + " → " + (dport === "" ? dip : hostPort(dip, dport)) },
    routeText(sip, sport, dip, dport));
}

// A column: key, title, td (the cell), val (sort and CSV value).
const callCols = [
  { key: "first", title: "first", td: (c) => timeTd(usOf(c.first)), val: (c) => usOf(c.first), csv: (c) => c.first },
  { key: "callid", title: "Call-ID", td: (c) => el("td", { class: "mono" }, c.callid), val: (c) => c.callid },
  { key: "from", title: "from", td: (c) => el("td", {}, c.from_user), val: (c) => c.from_user },
  { key: "to", title: "to", td: (c) => el("td", {}, c.to_user), val: (c) => c.to_user },
  { key: "ruri", title: "R-URI", td: (c) => el("td", {}, c.ruri_user), val: (c) => c.ruri_user },
  { key: "method", title: "method", td: (c) => el("td", {}, c.method), val: (c) => c.method },
  { key: "final", title: "final", td: (c) => el("td", { class: statusClass(c.final_status) === "r2" ? "st2" : c.final_status >= 300 ? "st3" : "st1" }, c.final_status || "—"), val: (c) => c.final_status },
  { key: "duration", title: "duration", td: (c) => el("td", {}, (c.duration_ms / 1000).toFixed(1) + " s"), val: (c) => c.duration_ms },
  { key: "talk", title: "talk", td: (c) => el("td", {}, c.talk_ms ? (c.talk_ms / 1000).toFixed(1) + " s" : ""), val: (c) => c.talk_ms || 0 },
  { key: "msgs", title: "msgs", td: (c) => el("td", {}, c.messages), val: (c) => c.messages },
  { key: "route", title: "route", td: (c) => routeTd(c.src_ip, "", c.dst_ip, ""), val: (c) => routeText(c.src_ip, "", c.dst_ip, ""), csv: (c) => routeText(c.src_ip, "", c.dst_ip, "", true) },
  { key: "ua", title: "User-Agent", td: (c) => el("td", {}, c.user_agent || ""), val: (c) => c.user_agent || "", hidden: true },
];

const msgCols = [
  { key: "time", api: "time", title: "time", td: (m) => timeTd(m.time_us), val: (m) => m.time_us, csv: (m) => m.time },
  { key: "what", api: "status", title: "method/status", td: (m) => el("td", { class: statusClass(m.status) === "req" ? "" : "st" + statusClass(m.status).slice(1) }, m.status ? m.status : m.method), val: (m) => (m.status ? String(m.status) : m.method) },
  { key: "route", api: "src_ip", title: "src → dst", td: (m) => routeTd(m.src_ip, m.src_port, m.dst_ip, m.dst_port), val: (m) => routeText(m.src_ip, m.src_port, m.dst_ip, m.dst_port),
    csv: (m) => routeText(m.src_ip, m.src_port, m.dst_ip, m.dst_port, true) },
  { key: "from", api: "from_user", title: "from", td: (m) => el("td", {}, m.from_user), val: (m) => m.from_user },
  { key: "to", api: "to_user", title: "to", td: (m) => el("td", {}, m.to_user), val: (m) => m.to_user },
  { key: "ruri", api: "ruri_user", title: "R-URI", td: (m) => el("td", {}, m.ruri_user), val: (m) => m.ruri_user },
  { key: "callid", api: "callid", title: "Call-ID", td: (m) => el("td", { class: "mono" }, m.callid), val: (m) => m.callid },
  { key: "ua", api: "user_agent", title: "User-Agent", td: (m) => el("td", {}, m.user_agent || ""), val: (m) => m.user_agent || "" },
  { key: "node", api: "node", title: "node", td: (m) => el("td", {}, m.node), val: (m) => m.node, hidden: true },
  { key: "transport", title: "transport", td: (m) => el("td", {}, m.transport), val: (m) => m.transport, hidden: true },
];

// hdrCols are the configured search headers (--search-header, listed by
// the session) as columns of both grids: a call shows the first value
// among its messages (the API's headers member). Shown by default: an
// operator configures a header to see it; the chooser hides it.
function hdrCols() {
  return ((me && me.search_headers) || []).map((h) => {
    const v = (r) => (r.headers && r.headers[h.param]) || "";
    return { key: h.param, api: h.param, title: h.name, td: (r) => el("td", { class: "hdr" }, v(r)), val: v };
  });
}
function callColumns() { return callCols.concat(hdrCols()); }
// The messages grid sorts on the server (sort=, order=: the whole result,
// not the page) by every column with an api key; calls and the rest sort
// the page shown.
function msgColumns() { return msgCols.concat(hdrCols()); }

// gridState: per grid id, the sort (key, direction) and hidden columns
// (kept in localStorage).
const gridState = {};
function gridOf(id, cols) {
  if (!gridState[id]) {
    let hidden;
    try { hidden = JSON.parse(localStorage.getItem("xhep.cols." + id) || "null"); } catch (e) { hidden = null; }
    gridState[id] = { sort: null, dir: 1, hidden: new Set(hidden || cols.filter((c) => c.hidden).map((c) => c.key)) };
  }
  return gridState[id];
}

function cmpVal(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

// grid draws rows (objects) as a table with the visible columns, sorted
// when a header was clicked; rowOf gives each row's tr attributes. With q
// (the search the rows answer) a column with an api key sorts on the
// server: the click asks the search again with sort= and order=, and the
// rows come sorted (st.server).
const gridQ = {}; // per grid id, the search its rows answer (redraws keep it)
function grid(id, cols, rows, rowOf, q) {
  const st = gridOf(id, cols);
  if (q) gridQ[id] = q; else q = gridQ[id];
  if (q) {
    const sk = q.get("sort"), c = sk && cols.find((x) => x.api === sk);
    if (c) {
      st.sort = c.key;
      st.dir = (q.get("order") || (sk === "time" ? "desc" : "asc")) === "desc" ? -1 : 1;
      st.server = true;
    } else if (st.server) {
      st.sort = null;
      st.server = false;
    }
  }
  const vis = cols.filter((c) => !st.hidden.has(c.key));
  let data = rows.slice();
  if (st.sort && !st.server) {
    const c = cols.find((x) => x.key === st.sort);
    if (c) data.sort((a, b) => st.dir * cmpVal(c.val(a), c.val(b)));
  }
  const t = el("table", { class: "list grid", id });
  if (!data.length) {
    t.append(el("tbody", {}, el("tr", {}, el("td", { class: "empty" }, "none"))));
  } else {
    const pick = id === "calls"; // a checkbox per call: merge the selected into one flow
    t.append(el("thead", {}, el("tr", {}, ...(pick ? [el("th", { class: "pick", title: "select calls to merge into one flow" }, "")] : []), ...vis.map((c) => {
      const th = el("th", { "data-col": c.key, class: "sortable" + (st.sort === c.key ? (st.dir > 0 ? " asc" : " desc") : ""), title: "sort by " + c.title }, c.title);
      th.addEventListener("click", () => {
        st.dir = st.sort === c.key ? -st.dir : 1;
        st.sort = c.key;
        if (q && c.api) {
          const q2 = new URLSearchParams(q);
          q2.set("sort", c.api);
          q2.set("order", st.dir > 0 ? "asc" : "desc");
          q2.delete("offset");
          q2.set("what", id);
          location.hash = "search=" + encodeURIComponent(q2.toString());
          return;
        }
        st.server = false;
        if (q) { q = new URLSearchParams(q); q.delete("sort"); q.delete("order"); gridQ[id] = q; }
        t.replaceWith(grid(id, cols, rows, rowOf, q));
      });
      return th;
    }))));
    const tb = el("tbody");
    for (const r of data) tb.append(el("tr", rowOf(r), ...(pick ? [pickTd(r)] : []), ...vis.map((c) => clipTd(c.td(r)))));
    t.append(tb);
  }
  return t;
}

// clipTd gives a grid cell with a long text (a From user of 60
// characters) its whole text on hover; the style cuts it with an ellipsis,
// so one value does not push the other columns off the screen.
function clipTd(td) {
  if (!td.title && td.textContent.length > 32) td.title = td.textContent;
  return td;
}

// picked are the calls selected in the calls grid for a merged flow:
// Call-ID → the call (its first and last time give the link's range).
const picked = new Map();
function pickTd(call) {
  const callid = call.callid;
  const cb = el("input", { type: "checkbox", class: "pick", "data-callid": callid, title: "merge into one flow" });
  cb.checked = picked.has(callid);
  cb.addEventListener("click", (ev) => ev.stopPropagation());
  cb.addEventListener("change", () => {
    if (cb.checked) picked.set(callid, call); else picked.delete(callid);
    const b = $("mergebtn");
    if (b) { b.disabled = picked.size < 2; b.textContent = "Merge " + picked.size + " calls into one flow"; }
  });
  return el("td", { class: "pick", onclick: (ev) => ev.stopPropagation() }, cb);
}

// mergeLink is the deep link of a merged flow of calls: the first call,
// the others as merge= (repeated), the range around all of them when it
// is at most a week (else the API's lookback).
function mergeLink(calls) {
  const q = new URLSearchParams();
  q.set("call", calls[0].callid);
  for (const c of calls.slice(1)) q.append("merge", c.callid);
  const first = Math.min(...calls.map((c) => Date.parse(c.first))), last = Math.max(...calls.map((c) => Date.parse(c.last)));
  if (last - first <= 7 * 86400e3) spanParams(q, first, last);
  return "#" + q.toString();
}

// toolbar: the column chooser, CSV download and auto-refresh of a result.
function toolbar(id, cols, rows, what) {
  const st = gridOf(id, cols);
  const chooser = el("details", { class: "cols" }, el("summary", {}, "columns"),
    ...cols.map((c) => {
      const cb = el("input", { type: "checkbox", "data-col": c.key });
      cb.checked = !st.hidden.has(c.key);
      cb.addEventListener("change", () => {
        if (cb.checked) st.hidden.delete(c.key); else st.hidden.add(c.key);
        localStorage.setItem("xhep.cols." + id, JSON.stringify([...st.hidden]));
        $(id).replaceWith(grid(id, cols, rows, what === "calls" ? callRow : msgRow));
      });
      return el("label", { class: "check" }, cb, c.title);
    }));
  const csvBtn = el("button", { type: "button", id: "csv", onclick: () => {
    const vis = cols.filter((c) => !st.hidden.has(c.key));
    const data = rows.slice();
    if (st.sort && !st.server) { const c = cols.find((x) => x.key === st.sort); data.sort((a, b) => st.dir * cmpVal(c.val(a), c.val(b))); }
    const lines = [vis.map((c) => csvField(c.title))].concat(data.map((r) => vis.map((c) => csvField((c.csv || c.val)(r)))));
    const blob = new Blob([lines.map((l) => l.join(",")).join("\r\n") + "\r\n"], { type: "text/csv" });
    const a = el("a", { href: URL.createObjectURL(blob), download: "xhep-" + what + ".csv" });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  } }, "CSV");
  const auto = el("input", { type: "checkbox", id: "autorefresh" });
  auto.checked = !!refresh.timer;
  const every = el("select", { id: "refreshevery" }, ...[5, 10, 30, 60].map((n) => { const o = el("option", { value: n }, n + " s"); if (n === refresh.secs) o.selected = true; return o; }));
  const arm = () => { refresh.secs = Number(every.value); setRefresh(auto.checked); };
  auto.addEventListener("change", arm);
  every.addEventListener("change", arm);
  const extra = [];
  if (what === "calls") {
    const mb = el("button", { type: "button", id: "mergebtn", title: "one ladder of the selected calls", onclick: () => { location.hash = mergeLink([...picked.values()]); } },
      "Merge " + picked.size + " calls into one flow");
    mb.disabled = picked.size < 2;
    extra.push(mb);
  }
  return el("div", { class: "toolbar" }, chooser, csvBtn, el("label", { class: "check", title: "re-run the search with the range moved to now" }, auto, "auto-refresh every"), every, ...extra);
}

function csvField(v) {
  const s = v == null ? "" : String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

// refresh re-runs the shown search every secs seconds, the "Last …"
// range moved to now (a fixed custom range is re-read as it is).
const refresh = { timer: null, secs: 10, count: 0 };
function setRefresh(on) {
  clearInterval(refresh.timer);
  refresh.timer = null;
  if (!on) return;
  refresh.timer = setInterval(() => {
    if ($("search").hidden) return;
    const cur = new URLSearchParams(new URLSearchParams(location.hash.slice(1)).get("search") || "");
    const what = cur.get("what") || "calls";
    const r = $("range").value;
    const q = searchQuery();
    q.set("what", what);
    for (const k of ["sort", "order"]) if (cur.get(k)) q.set(k, cur.get(k)); // a server sort stays
    refresh.count++;
    $("range").value = r;
    runSearch(q.toString(), true);
  }, refresh.secs * 1000);
}

function callRow(c) { return { class: "click", "data-callid": c.callid, onclick: () => { location.hash = callLink(c.callid, c.first, c.last); } }; }
// A message's call may have begun or end a while from it: a day each side.
function msgRow(m) { return { class: "click", "data-callid": m.callid, onclick: () => { location.hash = callLink(m.callid, m.time, m.time, 86400e3); } }; }

function callsTable(body) { return grid("calls", callColumns(), body.calls, callRow); }
function messagesTable(body, q) { return grid("messages", msgColumns(), body.messages, msgRow, q); }

// stats draws message counts per bucket as stacked bars: requests, then
// responses.
async function stats(q) {
  const box = $("statschart");
  const sq = new URLSearchParams();
  for (const k of ["from", "to", "tz"]) if (q.get(k)) sq.set(k, q.get(k));
  let st;
  try { st = await api("/api/v1/stats?" + sq.toString()); } catch (e) { box.replaceChildren(); return; }
  const W = 900, H = 120, L = 40, B = 18;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", height: H, class: "stats" });
  const max = Math.max(1, ...st.buckets.map((b) => b.total));
  const bw = (W - L) / st.buckets.length;
  st.buckets.forEach((b, i) => {
    const req = Object.values(b.methods).reduce((a, x) => a + x, 0);
    const rsp = b.total - req;
    const h1 = (req / max) * (H - B - 8), h2 = (rsp / max) * (H - B - 8);
    const x = L + i * bw;
    s.append(svg("rect", { x, y: H - B - h1, width: Math.max(1, bw - 1), height: h1, fill: "#1f5fbf" }));
    s.append(svg("rect", { x, y: H - B - h1 - h2, width: Math.max(1, bw - 1), height: h2, fill: "#1b8a3a" }));
  });
  s.append(svg("text", { x: 2, y: 12 }, String(max)));
  s.append(svg("text", { x: L, y: H - 4 }, fmtTime(st.buckets[0].time_us).slice(0, 19)));
  s.append(svg("text", { x: W - 4, y: H - 4, "text-anchor": "end" }, "requests (blue) and responses (green) per " + st.step_s + " s, total " + st.total));
  box.replaceChildren(s);
}

// ---- call view ----------------------------------------------------------------

let currentFlow = null;

// showCall shows a call's flow; with share (a share link's token) the
// flow comes through the link, read-only, without a login.
async function showCall(callid, q, share) {
  show("call");
  $("calltitle").textContent = callid || "shared call";
  for (const b of ["pcap", "text", "textdl", "share", "sharettl"]) $(b).hidden = !!share;
  if (!share) updateNav();
  $("sharebox").hidden = true;
  $("sharednote").hidden = !share;
  $("raw").textContent = "Click a message to see its raw text.";
  status("loading call…");
  // A merged flow (merge=, repeated) is one flow of the server's, and so
  // are its pcap, text and share link.
  const fq = new URLSearchParams();
  for (const k of ["from", "to", "tz"]) if (q.get(k)) fq.set(k, q.get(k));
  for (const id of new Set(q.getAll("merge"))) if (id && id !== callid) fq.append("merge", id);
  const suffix = fq.toString() ? "?" + fq.toString() : "";
  const base = "/api/v1/calls/" + encodeURIComponent(callid);
  let f;
  try {
    f = await api(share ? "/api/v1/shared/" + encodeURIComponent(share) + "/flow" : base + "/flow" + suffix);
  } catch (e) {
    $("callsummary").textContent = e.message;
    $("ladder").replaceChildren();
    status("");
    return;
  }
  currentFlow = f;
  status("");
  const merged = f.merged || [];
  if (share) $("calltitle").textContent = f.callid;
  if (merged.length) $("calltitle").textContent = "merged flow: " + [f.callid, ...merged].join(", ");
  if (share) {
    try {
      const p = JSON.parse(atob(share.split(".")[0].replace(/-/g, "+").replace(/_/g, "/")));
      $("sharednote").textContent = "shared link, read-only, valid until " + fmtTime(p.e * 1e6) + " " + (userTZ() || "UTC");
    } catch (e) { $("sharednote").textContent = "shared link, read-only"; }
  }
  $("share").onclick = async () => {
    try {
      const r = await api(base + "/share" + suffix, { method: "POST", json: { ttl: $("sharettl").value } });
      $("sharebox").hidden = false;
      $("sharelink").value = location.origin + r.link;
      $("sharelink").select();
    } catch (e) { status(e.message); }
  };
  $("callsummary").textContent = (merged.length ? `${merged.length + 1} calls merged: ` : "") + `${f.messages.length} SIP messages in ${f.legs.length} leg(s), ${fmtTime(usOf(f.first))} – ${fmtTime(usOf(f.last), false)} ${userTZ() || "UTC"}` +
    (f.truncated ? " (more legs linked than shown)" : "");
  const file = callid.replace(/[^A-Za-z0-9@._-]/g, "_") + (merged.length ? "+" + merged.length : "");
  $("pcap").onclick = () => download(base + "/pcap" + suffix, file + ".pcap");
  $("text").onclick = async () => {
    try { $("raw").textContent = await api(base + "/text" + suffix, { text: true }); } catch (e) { status(e.message); }
  };
  $("textdl").onclick = () => download(base + "/text" + suffix, file + ".txt");
  legs(f);
  collapsedTx.clear();
  ladderControls(f);
  ladder(f);
  transactions(f);
  qos(f);
  rtcp(f);
  media(f);
  table($("dns"), ["time", "src → dst", "name", "type", "kind", "rcode"], f.dns.map((d) => el("tr", {},
    timeTd(d.time_us), el("td", { class: "mono", title: hostPort(d.src_ip, d.src_port) + " → " + hostPort(d.dst_ip, d.dst_port) },
      (aliasOf(f, d.src_ip, d.src_port) || hostPort(d.src_ip, d.src_port)) + " → " + (aliasOf(f, d.dst_ip, d.dst_port) || hostPort(d.dst_ip, d.dst_port))),
    el("td", { class: "mono" }, d.qname), el("td", {}, qtype(d.qtype)), el("td", {}, d.qr ? "response" : "query"), el("td", {}, d.rcode))));
  table($("logs"), ["time", "correlation id", "message"], f.logs.map((l) => el("tr", {},
    timeTd(l.time_us), el("td", { class: "mono" }, l.correlation_id), el("td", {}, l.message))));
}

function qtype(n) { return { 1: "A", 28: "AAAA", 33: "SRV", 35: "NAPTR", 5: "CNAME", 12: "PTR", 2: "NS", 6: "SOA" }[n] || n; }

async function download(path, name) {
  try {
    const blob = await api(path, { blob: true });
    const a = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  } catch (e) { status(e.message); }
}

const legColors = ["#1f5fbf", "#b7791f", "#6b46c1", "#2c7a7b", "#c05621", "#97266d"];

function legs(f) {
  table($("legs"), ["", "Call-ID", "linked by", "to", "messages", "first", "last"], f.legs.map((l, i) => el("tr", { class: "click", "data-callid": l.callid, onclick: () => { location.hash = callLink(l.callid, l.first, l.last); } },
    el("td", {}, el("span", { style: `display:inline-block;width:10px;height:10px;background:${legColors[i % legColors.length]}` })),
    el("td", { class: "mono" }, l.callid), el("td", {}, l.linked_by || ((f.merged || []).includes(l.callid) ? "(merged)" : "(this call)")), el("td", { class: "mono" }, l.linked_to || ""),
    el("td", {}, l.messages), timeTd(usOf(l.first), false), timeTd(usOf(l.last), false))));
}

// ---- ladder -----------------------------------------------------------------

// combine is how addresses become ladder columns: "port" (host:port),
// "ip" (one column per address, so ephemeral TCP ports do not split a
// box) or "alias" (one per alias name, else per address). Kept in
// localStorage.
function combine() { return localStorage.getItem("xhep.combine") || "port"; }

// aliasOf is the alias name of ip (with port: a port alias first) in the
// flow; "" for none.
function aliasOf(f, ip, port) { return nameIn(f.aliases, ip, port); }

// colKey is the ladder column of an address under the combine mode.
function colKey(f, ip, port) {
  switch (combine()) {
    case "ip": return ip;
    case "alias": return aliasOf(f, ip, port) || ip;
  }
  return hostPort(ip, port);
}

function hasSDP(m) { return /\r?\n\r?\nv=0/.test(m.raw || "") || /^content-type:\s*application\/sdp/im.test(m.raw || ""); }

// ---- transactions: a request and its responses -----------------------------

// txOf parses a message's transaction: the top Via branch and the CSeq
// number and method (RFC 3261 17: responses and retransmissions share
// the request's branch and CSeq; CANCEL has the INVITE's branch but is a
// transaction of its own; the ACK of a non-2xx final response belongs to
// the INVITE's).
function txOf(m) {
  const head = (m.raw || "").split(/\r?\n\r?\n/)[0].split(/\r?\n/);
  let branch = "", cseq = "";
  for (const l of head.slice(1)) {
    const i = l.indexOf(":");
    if (i < 0) continue;
    const name = l.slice(0, i).trim().toLowerCase(), v = l.slice(i + 1).trim();
    if (!branch && (name === "via" || name === "v")) { const b = /;\s*branch=([^;,\s]+)/i.exec(v); branch = b ? b[1] : ""; }
    if (!cseq && name === "cseq") cseq = v.replace(/\s+/g, " ");
  }
  const [num, method] = cseq.split(" ");
  return { branch, num: num || "", method: (method || m.cseq_method || m.method || "").toUpperCase() };
}

// transactionsOf groups messages into transactions, in the order of
// their first message.
function transactionsOf(msgs) {
  const txs = [];
  const byKey = new Map();
  for (const m of msgs) {
    const t = txOf(m);
    let key = m.callid + "|" + t.branch + "|" + t.num + "|" + t.method;
    if (t.method === "ACK") {
      const inv = byKey.get(m.callid + "|" + t.branch + "|" + t.num + "|INVITE");
      if (inv && inv.final && inv.final >= 300) key = inv.key;
    }
    let tx = byKey.get(key);
    if (!tx) {
      tx = { key, id: "tx" + txs.length, callid: m.callid, branch: t.branch, cseq: t.num + " " + t.method, method: t.method, msgs: [], final: 0 };
      byKey.set(key, tx);
      txs.push(tx);
    }
    tx.msgs.push(m);
    if (m.status >= 200 && !tx.final) tx.final = m.status;
  }
  return txs;
}

// collapsedTx are the transactions shown as their first message only.
const collapsedTx = new Set();

// transactions draws the transaction table: per transaction its request,
// CSeq, branch, the responses, the final one and how long it took; a
// click folds it in the ladder (its first message stays, marked +N).
function transactions(f) {
  const txs = transactionsOf(dedup(f.messages));
  const rows = txs.map((tx) => {
    const first = tx.msgs[0], last = tx.msgs[tx.msgs.length - 1];
    const resp = tx.msgs.filter((m) => m.status).map((m) => String(m.status));
    const btn = el("button", { type: "button", class: "txtoggle", "data-tx": tx.key, title: "fold or unfold this transaction in the ladder" }, collapsedTx.has(tx.key) ? "▸" : "▾");
    btn.addEventListener("click", () => {
      if (collapsedTx.has(tx.key)) collapsedTx.delete(tx.key); else collapsedTx.add(tx.key);
      ladder(f);
      transactions(f);
    });
    return el("tr", { "data-tx": tx.key, "data-messages": tx.msgs.length, class: collapsedTx.has(tx.key) ? "folded" : "" },
      el("td", {}, btn), timeTd(first.time_us), el("td", {}, first.status ? "(response " + first.status + ")" : first.method),
      el("td", { class: "mono" }, tx.cseq), el("td", { class: "mono" }, tx.branch), el("td", { class: "mono" }, hostPort(first.src_ip, first.src_port) + " → " + hostPort(first.dst_ip, first.dst_port)),
      el("td", {}, resp.join(" ")), el("td", {}, tx.final ? String(tx.final) : "—"), el("td", {}, String(tx.msgs.length)),
      el("td", {}, fmtMS((last.time_us - first.time_us) / 1000)));
  });
  table($("transactions"), ["", "first", "request", "CSeq", "branch", "from → to", "responses", "final", "messages", "took"], rows);
  $("txall").onclick = () => { for (const tx of txs) collapsedTx.add(tx.key); ladder(f); transactions(f); };
  $("txnone").onclick = () => { collapsedTx.clear(); ladder(f); transactions(f); };
}

// kindOf is what a message is for the method/response filter: its
// method, or its status class (1xx..6xx).
function kindOf(m) { return m.status ? Math.floor(m.status / 100) + "xx" : m.method; }

const hiddenKinds = new Set();

function ladderControls(f) {
  const kinds = [...new Set(f.messages.map(kindOf))];
  const sel = el("select", { id: "combine", title: "one column per host:port, per IP, or per alias name" },
    ...[["port", "host:port"], ["ip", "IP"], ["alias", "alias"]].map(([v, t]) => { const o = el("option", { value: v }, "columns by " + t); if (v === combine()) o.selected = true; return o; }));
  sel.addEventListener("change", () => { localStorage.setItem("xhep.combine", sel.value); ladder(f); });
  const boxes = kinds.map((k) => {
    const cb = el("input", { type: "checkbox", "data-kind": k });
    cb.checked = !hiddenKinds.has(k);
    cb.addEventListener("change", () => { if (cb.checked) hiddenKinds.delete(k); else hiddenKinds.add(k); ladder(f); });
    return el("label", { class: "check" }, cb, k);
  });
  const nodes = [...new Set(f.messages.map((m) => String(m.node)))];
  const nsel = el("select", { id: "nodefilter", title: "messages captured at this node" }, el("option", { value: "" }, "all nodes"),
    ...nodes.map((n) => { const o = el("option", { value: n }, "node " + n); if (n === nodeFilter) o.selected = true; return o; }));
  nsel.addEventListener("change", () => { nodeFilter = nsel.value; ladder(f); });
  const dd = el("input", { type: "checkbox", id: "dedup" });
  dd.checked = dedupOn;
  dd.addEventListener("change", () => { dedupOn = dd.checked; ladder(f); });
  $("laddercontrols").replaceChildren(sel, nsel, el("label", { class: "check", title: "the same message captured at several nodes shown once" }, dd, "one arrow per message"),
    el("span", { class: "kinds" }, "show:", ...boxes));
}

// dedup merges the same message captured at several nodes: same raw
// text, addresses and ports within one second; the first capture stays,
// with every node (and its delay) in nodes.
let dedupOn = true;
let nodeFilter = "";
function dedup(msgs) {
  const out = [];
  const open = new Map();
  for (const m of msgs) {
    const k = m.src_ip + "|" + m.src_port + "|" + m.dst_ip + "|" + m.dst_port + "|" + (m.raw || m.first_line || m.method + m.status);
    const o = open.get(k);
    if (dedupOn && o && m.time_us - o.time_us <= 1e6 && !o.nodes.some((n) => n.node === m.node)) {
      o.nodes.push({ node: m.node, delay_us: m.time_us - o.time_us });
      continue;
    }
    const c = Object.assign({}, m, { nodes: [{ node: m.node, delay_us: 0 }] });
    open.set(k, c);
    out.push(c);
  }
  return out;
}

// ladder draws one column per address (see combine), in order of first
// appearance, and one arrow per shown message, top to bottom in capture
// order, with the time, the delta to the previous message shown and to
// the first INVITE, and an SDP marker.
function ladder(f) {
  const s = $("ladder");
  s.replaceChildren();
  const all = dedup(f.messages);
  const folded = new Map(); // first message of a folded transaction → messages hidden
  const hide = new Set();
  if (collapsedTx.size) {
    for (const tx of transactionsOf(all)) {
      if (!collapsedTx.has(tx.key)) continue;
      folded.set(tx.msgs[0], tx.msgs.length - 1);
      for (const m of tx.msgs.slice(1)) hide.add(m);
    }
  }
  const msgs = all.filter((m) => !hide.has(m) && !hiddenKinds.has(kindOf(m)) && (!nodeFilter || m.nodes.some((n) => String(n.node) === nodeFilter)));
  const cols = [];
  const colOf = {};
  const members = {};
  const addrOf = {};
  for (const m of msgs) {
    for (const [ip, port] of [[m.src_ip, m.src_port], [m.dst_ip, m.dst_port]]) {
      const k = colKey(f, ip, port);
      if (!(k in colOf)) { colOf[k] = cols.length; cols.push(k); members[k] = new Set(); addrOf[k] = [ip, port]; }
      members[k].add(hostPort(ip, port));
    }
  }
  const legIdx = {};
  f.legs.forEach((l, i) => { legIdx[l.callid] = i; });
  const invite = f.messages.find((m) => m.method === "INVITE" && !m.status);
  const X0 = 250, DX = 200, Y0 = 50, DY = 30;
  const W = X0 + Math.max(1, cols.length - 1) * DX + 120, H = Y0 + msgs.length * DY + 20;
  s.setAttribute("width", W);
  s.setAttribute("height", H);
  s.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const x = (i) => X0 + i * DX;
  cols.forEach((k, i) => {
    const [ip, port] = addrOf[k];
    const n = aliasOf(f, ip, combine() === "port" ? port : undefined);
    const name = combine() === "alias" ? k : n ? n + " " + k : k;
    const t = svg("text", { class: "host", x: x(i), y: 20, "text-anchor": "middle", "data-col": k }, name);
    t.append(svg("title", {}, [...members[k]].join(", ")));
    s.append(t);
    s.append(svg("line", { class: "life", x1: x(i), y1: 28, x2: x(i), y2: H - 10 }));
  });
  let prev = null;
  msgs.forEach((m, j) => {
    const from = hostPort(m.src_ip, m.src_port), to = hostPort(m.dst_ip, m.dst_port);
    const a = colOf[colKey(f, m.src_ip, m.src_port)], b = colOf[colKey(f, m.dst_ip, m.dst_port)];
    const y = Y0 + j * DY;
    const cls = statusClass(m.status);
    const sdp = hasSDP(m);
    const g = svg("g", { class: "msg " + cls, "data-sdp": sdp ? "1" : "0", "data-nodes": m.nodes.map((n) => n.node).join(","), "data-idx": j, "data-from": from, "data-to": to, "data-callid": m.callid, "data-method": m.status ? String(m.status) : m.method });
    g.append(svg("rect", { class: "hit", x: 0, y: y - 18, width: W, height: DY }));
    g.append(svg("rect", { x: 4, y: y - 14, width: 5, height: 18, fill: legColors[(legIdx[m.callid] || 0) % legColors.length] }));
    const tt = svg("text", { class: "time", x: 14, y: y - 3 }, fmtTime(m.time_us, false) + (m.nodes.length > 1 ? " ×" + m.nodes.length : ""));
    tt.append(svg("title", {}, fmtUTC(m.time_us) + "\ncaptured at node " + m.nodes.map((n) => n.node + (n.delay_us ? " (+" + (n.delay_us / 1000).toFixed(3) + " ms)" : "")).join(", ")));
    g.append(tt);
    const dPrev = prev ? (m.time_us - prev.time_us) / 1000 : 0;
    const dInv = invite ? (m.time_us - invite.time_us) / 1000 : 0;
    g.append(svg("text", { class: "delta", x: 14, y: y + 9, "data-dprev": dPrev.toFixed(3), "data-dinvite": dInv.toFixed(3) },
      "+" + fmtMS(dPrev) + (invite ? "  Σ " + fmtMS(dInv) : "")));
    prev = m;
    let label = m.status ? (m.first_line || String(m.status)).replace(/^SIP\/2\.0\s+/, "") : m.method;
    if (sdp) label += " (SDP)";
    if (folded.get(m)) { label += " [+" + folded.get(m) + "]"; g.setAttribute("data-folded", folded.get(m)); }
    if (a === b) {
      g.append(svg("path", { d: `M ${x(a)} ${y - 6} h 40 v 12 h -38` }));
      g.append(svg("polygon", { points: `${x(a)},${y + 6} ${x(a) + 8},${y + 2} ${x(a) + 8},${y + 10}` }));
      g.append(svg("text", { class: "label", x: x(a) + 46, y: y + 4 }, label));
    } else {
      const x1 = x(a), x2 = x(b), dir = x2 > x1 ? 1 : -1;
      g.append(svg("line", { x1, y1: y, x2: x2 - dir * 8, y2: y }));
      g.append(svg("polygon", { points: `${x2},${y} ${x2 - dir * 9},${y - 4} ${x2 - dir * 9},${y + 4}` }));
      g.append(svg("text", { class: "label", x: (x1 + x2) / 2, y: y - 5, "text-anchor": "middle" }, label.length > 34 ? label.slice(0, 33) + "…" : label));
    }
    g.addEventListener("click", () => {
      for (const o of s.querySelectorAll(".msg.sel")) o.classList.remove("sel");
      g.classList.add("sel");
      showMessage(f, m);
    });
    s.append(g);
  });
}

function fmtMS(ms) { return ms >= 1000 ? (ms / 1000).toFixed(3) + " s" : ms.toFixed(1) + " ms"; }

// showMessage shows a message's raw text and its parsed header table.
function showMessage(f, m) {
  const from = hostPort(m.src_ip, m.src_port), to = hostPort(m.dst_ip, m.dst_port);
  const an = (ip, port) => aliasOf(f, ip, port) ? " (" + aliasOf(f, ip, port) + ")" : "";
  $("raw").textContent = `${fmtTime(m.time_us)}  ${m.transport.toUpperCase()} ${from}${an(m.src_ip, m.src_port)} → ${to}${an(m.dst_ip, m.dst_port)}  Call-ID ${m.callid}  node ${m.node}\n\n` + m.raw;
  const head = (m.raw || "").split(/\r?\n\r?\n/)[0].split(/\r?\n/).slice(1);
  table($("headers"), ["header", "value"], head.filter((l) => l.includes(":")).map((l) => {
    const i = l.indexOf(":");
    return el("tr", {}, el("td", { class: "hname" }, l.slice(0, i).trim()), el("td", { class: "mono" }, l.slice(i + 1).trim()));
  }));
}

// hpName is a "host:port" with its alias: "SBC-1 (10.0.0.10:4000)".
function hpName(f, hp) {
  const ip = hp.replace(/^\[/, "").replace(/\]:\d+$/, "").replace(/:\d+$/, "");
  const port = (hp.match(/:(\d+)$/) || [])[1];
  const n = aliasOf(f, ip, port);
  return n ? n + " (" + hp + ")" : hp;
}

// qos draws the per-stream RTCP table: who reports about whom (hosts and
// aliases, direction), reports, packets lost, max and mean jitter and
// loss, mean RTT.
function qos(f) {
  const name = (hp) => hpName(f, hp);
  table($("qos"), ["reporter → about (direction of the media reported)", "reports", "packets lost", "max jitter", "mean jitter", "max loss", "mean RTT"],
    f.rtcp_streams.map((st) => {
      const pts = st.points;
      const jit = pts.map((p) => p.jitter_ms), loss = pts.map((p) => p.loss_pct), rtt = pts.filter((p) => p.rtt_ms != null).map((p) => p.rtt_ms);
      const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
      const lost = pts.length ? pts[pts.length - 1].packets_lost : 0;
      return el("tr", { "data-reporter": st.reporter_ssrc, "data-source": st.source_ssrc, title: `SSRC ${st.reporter_ssrc.toString(16)} reports on ${st.source_ssrc.toString(16)}` },
        el("td", { class: "mono" }, `${name(st.src)} reports on media from ${name(st.dst)}`),
        el("td", {}, pts.length), el("td", {}, lost),
        el("td", {}, Math.max(...jit).toFixed(2) + " ms"), el("td", {}, mean(jit).toFixed(2) + " ms"),
        el("td", {}, Math.max(...loss).toFixed(1) + " %"), el("td", {}, rtt.length ? mean(rtt).toFixed(1) + " ms" : "—"));
    }));
}

// rtcp draws one jitter and one loss line chart per stream.
function rtcp(f) {
  const box = $("rtcp");
  box.replaceChildren();
  if (!f.rtcp_streams.length) { box.append(el("p", { class: "empty" }, "no RTCP reports for this call")); return; }
  const t0 = Math.min(...f.rtcp_streams.flatMap((s) => s.points.map((p) => p.time_us)));
  const t1 = Math.max(...f.rtcp_streams.flatMap((s) => s.points.map((p) => p.time_us)));
  for (const [key, unit, title] of [["jitter_ms", "ms", "Jitter"], ["loss_pct", "%", "Loss"], ["rtt_ms", "ms", "Round-trip time"]]) {
    const series = f.rtcp_streams.map((s) => s.points.filter((p) => p[key] != null).map((p) => [p.time_us, p[key]]));
    if (!series.some((p) => p.length)) continue;
    box.append(lineChart(title, unit, series, f.rtcp_streams.map((s) => `${hpName(f, s.src)} → ${hpName(f, s.dst)} (SSRC ${s.reporter_ssrc.toString(16)} on ${s.source_ssrc.toString(16)})`), t0, t1));
  }
}

// mediaStreams groups the flow's RTP quality reports (HEP type 34) by
// stream: leg (correlation id), source, destination and SSRC, reports in
// capture order.
function mediaStreams(f) {
  const by = new Map();
  for (const m of f.media || []) {
    const k = [m.correlation_id, hostPort(m.src_ip, m.src_port), hostPort(m.dst_ip, m.dst_port), m.ssrc].join("|");
    if (!by.has(k)) by.set(k, { callid: m.correlation_id, src: hostPort(m.src_ip, m.src_port), dst: hostPort(m.dst_ip, m.dst_port),
      srcIP: m.src_ip, dstIP: m.dst_ip, srcPort: m.src_port, dstPort: m.dst_port, ssrc: m.ssrc, reports: [] });
    by.get(k).reports.push(m);
  }
  return [...by.values()];
}

// rtcpFor finds the RTCP stream reporting on the same media as an RTP
// stream: first the same SSRC (the RTCP block's source SSRC is the RTP
// SSRC), else the same endpoints — the RTCP comes from the RTP stream's
// receiver (its IP, at the RTP port with rtcp-mux or port+1) and is sent
// to the RTP sender's IP. Each RTCP stream is matched at most once.
function rtcpFor(f, st, used) {
  const hp = (s) => { const m = s.match(/^\[?(.*?)\]?:(\d+)$/); return m ? [m[1], +m[2]] : [s, 0]; };
  const free = f.rtcp_streams.filter((r) => !used.has(r));
  let r = free.find((r) => r.source_ssrc === st.ssrc);
  if (!r) r = free.find((r) => {
    const [rip, rport] = hp(r.src), [dip] = hp(r.dst);
    return rip === st.dstIP && dip === st.srcIP && (rport === st.dstPort || rport === st.dstPort + 1);
  });
  if (r) used.add(r);
  return r;
}

// media draws the per-stream RTP quality table (the agent's reports: last
// report's packets, lost %, max/mean jitter, MOS) with the matching RTCP
// stream's figures in the row below, and a MOS and loss chart per stream.
function media(f) {
  const box = $("mediacharts");
  box.replaceChildren();
  const name = (ip, hp) => hpName(f, hp);
  const legIdx = Object.fromEntries(f.legs.map((l, i) => [l.callid, i]));
  const streams = mediaStreams(f), used = new Set(), rows = [];
  const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
  streams.forEach((st, i) => {
    const last = st.reports[st.reports.length - 1];
    const label = `${name(st.srcIP, st.src)} → ${name(st.dstIP, st.dst)}`;
    const dir = last.dir ? "from SDP endpoint" : "to SDP endpoint";
    const leg = el("td", { class: "mono", title: st.callid }, String.fromCharCode(65 + (legIdx[st.callid] ?? 25)) + "-leg");
    rows.push(el("tr", { "data-stream": i, "data-src": "RTP", "data-ssrc": st.ssrc, title: `Call-ID ${st.callid}, SSRC ${st.ssrc.toString(16)}, ${st.reports.length} report(s)` },
      leg, el("td", { class: "mono" }, label), el("td", {}, dir), el("td", {}, "RTP"), el("td", {}, last.codec || ("PT " + last.pt)),
      el("td", {}, last.packets + " / " + last.expected), el("td", {}, last.lost_pct.toFixed(2) + " %"),
      el("td", {}, last.max_jitter_ms.toFixed(2) + " ms"), el("td", {}, last.mean_jitter_ms.toFixed(2) + " ms"),
      el("td", { class: last.mos < 3.6 ? "bad" : "" }, last.mos.toFixed(2) + " (mean " + last.mean_mos.toFixed(2) + ")"),
      el("td", {}, last.type + " " + fmtTime(last.time_us, false))));
    const r = rtcpFor(f, st, used);
    if (r) {
      const pts = r.points, jit = pts.map((p) => p.jitter_ms), loss = pts.map((p) => p.loss_pct);
      rows.push(el("tr", { class: "rtcprow", "data-stream": i, "data-src": "RTCP", title: `RTCP from ${r.src}: SSRC ${r.reporter_ssrc.toString(16)} reports on ${r.source_ssrc.toString(16)}` },
        el("td", {}, ""), el("td", { class: "mono" }, `${name(r.src.replace(/^\[?(.*?)\]?:\d+$/, "$1"), r.src)} reports on it`), el("td", {}, ""), el("td", {}, "RTCP"), el("td", {}, "—"),
        el("td", {}, (pts.length ? pts[pts.length - 1].packets_lost : 0) + " lost"), el("td", {}, mean(loss).toFixed(2) + " %"),
        el("td", {}, Math.max(...jit).toFixed(2) + " ms"), el("td", {}, mean(jit).toFixed(2) + " ms"), el("td", {}, "—"),
        el("td", {}, pts.length + " report(s)")));
    }
    const t0 = st.reports[0].time_us, t1 = last.time_us;
    const fig = el("div", { class: "mediastream", "data-stream": i }, el("div", { class: "mono" }, `${String.fromCharCode(65 + (legIdx[st.callid] ?? 25))}-leg ${label}`),
      lineChart("MOS", "1–5", [st.reports.map((m) => [m.time_us, m.mos])], ["MOS per report"], t0, t1, 300, 140, 5),
      lineChart("Lost", "%", [st.reports.map((m) => [m.time_us, m.lost_pct])], ["lost % per report"], t0, t1, 300, 140));
    box.append(fig);
  });
  table($("media"), ["leg", "stream", "direction", "source", "codec", "packets / expected", "lost %", "max jitter", "mean jitter", "MOS", "last report"], rows);
  if (!streams.length) box.append(el("p", { class: "empty" }, "no RTP quality reports for this call"));
}

const seriesColors = ["#1f5fbf", "#c0392b", "#1b8a3a", "#b7791f", "#6b46c1", "#2c7a7b", "#97266d", "#4a5568"];

function lineChart(title, unit, series, names, t0, t1, W = 460, H = 200, fixedMax) {
  const L = 46, R = 10, T = 14, B = 24;
  const ymax = fixedMax || Math.max(1e-9, ...series.flat().map((p) => p[1])) * 1.1;
  const sx = (t) => L + (t1 > t0 ? ((t - t0) / (t1 - t0)) * (W - L - R) : (W - L - R) / 2);
  const sy = (v) => H - B - (v / ymax) * (H - T - B);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "linechart", "data-title": title });
  s.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#b9c0cc" }));
  s.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#b9c0cc" }));
  s.append(svg("text", { x: L - 4, y: T + 4, "text-anchor": "end" }, ymax.toFixed(ymax < 10 ? 2 : 0)));
  s.append(svg("text", { x: L - 4, y: H - B, "text-anchor": "end" }, "0"));
  s.append(svg("text", { x: L, y: H - 6 }, fmtTime(t0, false)));
  s.append(svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, fmtTime(t1, false)));
  series.forEach((pts, i) => {
    if (!pts.length) return;
    const c = seriesColors[i % seriesColors.length];
    s.append(svg("polyline", { class: "series", points: pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" "), fill: "none", stroke: c, "stroke-width": 1.6 }));
    for (const p of pts) s.append(svg("circle", { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: 2.5, fill: c }));
  });
  const legend = el("div", {}, ...names.map((n, i) => el("div", { class: "mono", style: `color:${seriesColors[i % seriesColors.length]};font-size:11px` }, n)));
  return el("figure", {}, el("figcaption", {}, `${title} (${unit})`), s, legend);
}

// ---- routing ----------------------------------------------------------------

async function route() {
  if (!mode) await loadSession();
  const h = location.hash.replace(/^#/, "");
  const sq = new URLSearchParams(h);
  if (sq.get("share")) { showCall("", sq, sq.get("share")); return; }
  if (mode === "accounts" && !me) { showLogin(); return; }
  if (h === "settings" && mode === "accounts") { show("settings"); showSettings(); return; }
  if (h === "admin" && can("admin") && mode === "accounts") { show("admin"); showAdmin(); return; }
  const q = new URLSearchParams(h);
  if (q.get("registrations") != null || h === "registrations") { show("registrations"); showRegistrations(q.get("registrations") || ""); return; }
  if (q.get("call")) {
    showCall(q.get("call"), q);
    return;
  }
  show("search");
  showZone();
  loadAliasNames();
  if (mode === "accounts") loadSaved();
  if (me && me.settings && me.settings.page_size && !q.get("search")) $("searchform").querySelector('input[name="limit"]').value = me.settings.page_size;
  if (q.get("search") != null) {
    runSearch(q.get("search"));
  } else {
    setRange();
    const r = $("range").value;
    runSearch(searchQuery().toString() + "&what=calls");
    $("range").value = r; // the default range stays "last …", not custom
  }
}

// ---- registrations ------------------------------------------------------------

$("regform").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams();
  if ($("reguser").value.trim()) q.set("to_user", $("reguser").value.trim());
  q.set("last", $("regrange").value);
  location.hash = "registrations=" + encodeURIComponent(q.toString());
});

async function showRegistrations(qs) {
  const q = new URLSearchParams(qs);
  const secs = Number(q.get("last") || 86400);
  $("regrange").value = String(secs);
  $("reguser").value = q.get("to_user") || "";
  const aq = new URLSearchParams();
  if (q.get("to_user")) aq.set("to_user", q.get("to_user"));
  if (q.get("from")) {
    // A deep link with its own range (and zone).
    for (const k of ["from", "to", "tz"]) if (q.get(k)) aq.set(k, q.get(k));
  } else {
    const now = Date.now();
    aq.set("from", new Date(now - secs * 1000).toISOString());
    aq.set("to", new Date(now).toISOString());
  }
  aq.set("limit", "1000");
  let res;
  try { res = await api("/api/v1/registrations?" + aq.toString()); } catch (e) { $("regsummary").textContent = e.message; $("regs").replaceChildren(); return; }
  const live = res.registrations.filter((r) => r.registered).length;
  $("regsummary").textContent = `${res.total} addresses of record, ${live} registered at ${fmtTime(usOf(res.at))} ${userTZ() || "UTC"}`;
  table($("regs"), ["user", "domain", "state", "contact (UA address)", "registrar", "expires", "last OK", "User-Agent", "REGISTERs", "2xx", "401/407", "failed", "last failure"],
    res.registrations.map((r) => el("tr", { "data-user": r.user, class: r.registered ? "reg" : "unreg" },
      el("td", {}, r.user), el("td", {}, r.domain),
      el("td", { class: r.registered ? "st2" : "st3" }, r.registered ? "registered" : r.last_ok ? "expired" : "not registered"),
      el("td", { class: "mono" }, r.contact || ""), el("td", { class: "mono" }, r.registrar || ""),
      el("td", { title: r.expires_at ? fmtUTC(usOf(r.expires_at)) : "" }, r.last_ok ? r.expires + " s" : ""),
      r.last_ok ? timeTd(usOf(r.last_ok)) : el("td", {}, ""),
      el("td", {}, r.user_agent || ""), el("td", {}, r.attempts), el("td", {}, r.accepted), el("td", {}, r.challenges),
      el("td", { class: r.failures ? "st3" : "" }, r.failures),
      r.last_failure ? el("td", { class: "st3", title: fmtUTC(usOf(r.last_failure_time)) }, r.last_failure + " at " + fmtTime(usOf(r.last_failure_time))) : el("td", {}, ""))));
  $("regs").dataset.done = qs;
}

// ---- settings, tokens ---------------------------------------------------------

async function showSettings() {
  $("settz").value = (me.settings && me.settings.tz) || "";
  $("setpage").value = (me.settings && me.settings.page_size) || "";
  const dl = $("tzlist");
  if (!dl.children.length && Intl.supportedValuesOf) dl.replaceChildren(...Intl.supportedValuesOf("timeZone").map((z) => el("option", { value: z })));
  loadTokens();
}

$("settingsform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    me.settings = await api("/api/v1/settings", { method: "PUT", json: { tz: $("settz").value.trim(), page_size: Number($("setpage").value) || 0 } });
    $("settingsmsg").textContent = "saved";
    updateNav();
  } catch (e) { $("settingsmsg").textContent = e.message; }
});

$("pwform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await api("/api/v1/password", { method: "POST", json: { old: $("pwold").value, new: $("pwnew").value } });
    $("pwmsg").textContent = "password changed: please log in again";
    $("pwold").value = $("pwnew").value = "";
  } catch (e) { $("pwmsg").textContent = e.message; }
});

async function loadTokens() {
  let res;
  try { res = await api("/api/v1/tokens"); } catch (e) { status(e.message); return; }
  table($("tokens"), ["name", "created", "last used", ""], res.tokens.map((t) => el("tr", { "data-token": t.id },
    el("td", {}, t.name), timeTd(usOf(t.created)), el("td", { class: "mono" }, t.last_used ? fmtTime(usOf(t.last_used)) : "never"),
    el("td", {}, el("button", { onclick: async () => { try { await api("/api/v1/tokens/" + t.id, { method: "DELETE" }); loadTokens(); } catch (e) { status(e.message); } } }, "Revoke")))));
}

$("tokennew").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const res = await api("/api/v1/tokens", { method: "POST", json: { name: $("tokname").value } });
    $("toksecret").hidden = false;
    $("toksecret").textContent = "New token (shown once, copy it now):\n" + res.secret;
    $("tokname").value = "";
    loadTokens();
  } catch (e) { status(e.message); }
});

// ---- admin: users, audit log ---------------------------------------------------

async function showAdmin() {
  let us, al;
  try { [us, al] = await Promise.all([api("/api/v1/users"), api("/api/v1/audit?limit=200")]); } catch (e) { status(e.message); return; }
  table($("users"), ["name", "role", "source", "created", ""], us.users.map((u) => {
    const sel = el("select", { "data-user": u.name }, ...["read-only", "operator", "admin"].map((r) => { const o = el("option", {}, r); if (r === u.role) o.selected = true; return o; }));
    sel.addEventListener("change", async () => {
      try { await api("/api/v1/users/" + encodeURIComponent(u.name), { method: "PATCH", json: { role: sel.value } }); showAdmin(); } catch (e) { $("usermsg").textContent = e.message; showAdmin(); }
    });
    return el("tr", { "data-user": u.name }, el("td", {}, u.name), el("td", {}, sel), el("td", {}, u.source), timeTd(usOf(u.created)),
      el("td", {}, el("button", { onclick: async () => {
        if (!confirm("Delete user " + u.name + "?")) return;
        try { await api("/api/v1/users/" + encodeURIComponent(u.name), { method: "DELETE" }); showAdmin(); } catch (e) { $("usermsg").textContent = e.message; }
      } }, "Delete")));
  }));
  try {
    const al2 = await api("/api/v1/aliases");
    $("aliastext").value = al2.stored.map((x) => x.prefix + "=" + x.name).join("\n");
    $("aliasconf").textContent = al2.configured.length ? "from --alias (fixed): " + al2.configured.map((x) => x.prefix + "=" + x.name).join(", ") : "";
  } catch (e) { $("aliasmsg").textContent = e.message; }
  table($("audit"), ["time", "user", "action", "detail", "from"], al.entries.map((e) => el("tr", { "data-action": e.action },
    timeTd(usOf(e.time)), el("td", {}, e.user), el("td", {}, e.action), el("td", { class: "mono" }, e.detail), el("td", { class: "mono" }, e.remote))));
}

$("usernew").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("usermsg").textContent = "";
  try {
    await api("/api/v1/users", { method: "POST", json: { name: $("newname").value.trim(), role: $("newrole").value, password: $("newpw").value } });
    $("usermsg").textContent = "created " + $("newname").value.trim();
    $("newname").value = $("newpw").value = "";
    showAdmin();
  } catch (e) { $("usermsg").textContent = e.message; }
});

$("aliasform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const aliases = $("aliastext").value.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((l) => {
    const i = l.indexOf("=");
    return { prefix: i < 0 ? l : l.slice(0, i).trim(), name: i < 0 ? "" : l.slice(i + 1).trim() };
  });
  try {
    await api("/api/v1/aliases", { method: "PUT", json: { aliases } });
    $("aliasmsg").textContent = "saved " + aliases.length + " aliases";
  } catch (e) { $("aliasmsg").textContent = e.message; }
});

// ---- saved searches --------------------------------------------------------------

let saved = [];
async function loadSaved() {
  try { saved = (await api("/api/v1/searches")).searches; } catch (e) { return; }
  $("savedlist").replaceChildren(el("option", { value: "" }, "saved searches…"), ...saved.map((s) => el("option", { value: String(s.id) }, s.name)));
}

$("savedlist").addEventListener("change", () => {
  const s = saved.find((x) => String(x.id) === $("savedlist").value);
  if (!s) return;
  const q = new URLSearchParams(s.query);
  const cur = searchQuery();
  q.set("from", cur.get("from"));
  q.set("to", cur.get("to"));
  location.hash = "search=" + encodeURIComponent(q.toString());
});

$("savebtn").addEventListener("click", async () => {
  const q = searchQuery();
  q.delete("from");
  q.delete("to");
  const cur = new URLSearchParams(new URLSearchParams(location.hash.slice(1)).get("search") || "");
  q.set("what", cur.get("what") || "calls");
  try {
    await api("/api/v1/searches", { method: "POST", json: { name: $("savename").value, query: q.toString() } });
    $("savename").value = "";
    loadSaved();
  } catch (e) { status(e.message); }
});

$("savedel").addEventListener("click", async () => {
  const id = $("savedlist").value;
  if (!id) return;
  try { await api("/api/v1/searches/" + id, { method: "DELETE" }); loadSaved(); } catch (e) { status(e.message); }
});

$("back").addEventListener("click", (ev) => { ev.preventDefault(); location.hash = ""; });
window.addEventListener("hashchange", route);
route();
