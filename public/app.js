// tokenbroker admin console. Plain JavaScript, no build step, no third parties.
// Every value reaches the page through textContent, so nothing is interpreted as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = "";

const RESULT = {
  connected: ["ok", "Zoom is connected."],
  cancelled: ["warn", "The authorization was cancelled on Zoom. Nothing was changed."],
  email_mismatch: ["bad", "Oops! The Zoom account you approved with does not use your CRM email address. Sign out of Zoom and try again with the matching account."],
  not_admin: ["bad", "An account-level app must be approved by a Zoom account Owner or Admin."],
  error: ["bad", "Zoom did not finish the authorization. Please try again."],
};

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function notify(kind, text) {
  const box = $("notice");
  box.className = "notice " + kind;
  box.textContent = text;
  box.hidden = false;
}

function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

async function api(method, path, body) {
  const headers = { "x-csrf-token": csrf };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (response.status === 401) {
    showSignedOut();
    throw new Error("signed out");
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((data && data.message) || "Request failed (" + response.status + ")");
  return data;
}

function showSignedOut() {
  $("loading").hidden = true;
  $("console").hidden = true;
  $("sign-out").hidden = true;
  $("signed-out").hidden = false;
}

function renderMigration(m) {
  const icon = $("migration-icon");
  const cutoff = new Date(m.jwt_cutoff).toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" });
  const states = {
    oauth: ["state-ok", "✓", "OAuth in place", "This org uses Zoom OAuth. Nothing depends on the legacy JWT key."],
    s2s: ["state-ok", "✓", "Server-to-Server OAuth in place", "This org uses Server-to-Server OAuth credentials."],
    jwt_only: ["state-warn", "⚠", "Still on JWT: authorize before " + cutoff + " (" + m.days_left + " days left)", "Zoom stops accepting JWT tokens at the cutoff. Click Authorize below to move to OAuth."],
    jwt_expired: ["state-bad", "✕", "JWT cutoff passed, integration broken", "Zoom no longer accepts the legacy JWT key (cutoff " + cutoff + "). Authorize below to restore the integration."],
    none: ["state-none", "○", "Zoom is not connected", "Authorize below to connect Zoom."],
  };
  const [cls, glyph, title, text] = states[m.state] || states.none;
  icon.className = "status-icon " + cls;
  icon.textContent = glyph;
  $("migration").dataset.state = m.state;
  $("migration-title").textContent = title;
  $("migration-text").textContent = text;
}

// The connection list is paged on the server: the console holds one page
// and the cursors that led to it (for Previous), never the whole list.
const PAGE_SIZE = 25;
const STATUS_LABELS = { active: "Active", needs_reauth: "⚠ Needs re-authorization", revoked: "Revoked" };
const view = { status: "", emailPrefix: "", cursors: [""], index: 0 };

function filtered() {
  return view.status !== "" || view.emailPrefix !== "";
}

function renderCounts(counts) {
  const box = $("connection-counts");
  box.replaceChildren();
  const total = counts.reduce((sum, c) => sum + c.count, 0);
  const add = (status, label, count) => {
    const button = el("button", label + " (" + count + ")");
    button.type = "button";
    button.dataset.status = status;
    button.setAttribute("aria-pressed", String(view.status === status));
    if (status === "needs_reauth" && count > 0) button.classList.add("attention");
    button.addEventListener("click", () => run(button, () => setFilter(status, view.emailPrefix)));
    box.append(button);
  };
  add("", "All", total);
  for (const c of counts) add(c.status, STATUS_LABELS[c.status] || c.status, c.count);
}

// Events to the CRM whose delivery gave up after 24 h of retries.
function renderFailedEvents(count) {
  const note = $("failed-events");
  note.hidden = !count;
  note.textContent = count
    ? count + (count === 1 ? " event" : " events") +
      " to the CRM could not be delivered (see GET /api/v1/events)."
    : "";
}

async function setFilter(status, emailPrefix) {
  view.status = status;
  view.emailPrefix = emailPrefix;
  view.cursors = [""];
  view.index = 0;
  $("filter-status").value = status;
  $("search-email").value = emailPrefix;
  for (const b of $("connection-counts").querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(b.dataset.status === status));
  }
  await fetchPage();
}

async function fetchPage() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (view.status) query.set("status", view.status);
  if (view.emailPrefix) query.set("email_prefix", view.emailPrefix);
  if (view.cursors[view.index]) query.set("after", view.cursors[view.index]);
  renderPage(await api("GET", "/admin/api/connections?" + query));
}

// Not through run(): renderPage decides whether Previous and Next stay enabled.
async function turn(delta) {
  const from = view.index;
  view.index = Math.max(0, Math.min(view.cursors.length - 1, from + delta));
  $("prev-page").disabled = $("next-page").disabled = true;
  try {
    await fetchPage();
  } catch (err) {
    view.index = from;
    $("prev-page").disabled = from === 0;
    $("next-page").disabled = view.cursors.length <= from + 1;
    if (err.message !== "signed out") notify("bad", err.message);
  }
}

function renderPage(page) {
  view.cursors.length = view.index + 1;
  if (page.next) view.cursors.push(page.next);
  $("prev-page").disabled = view.index === 0;
  $("next-page").disabled = !page.next;
  const n = page.connections.length;
  const first = view.index * PAGE_SIZE + 1;
  $("page-info").textContent = n === 0 ? "" : "Showing " + first + "–" + (first + n - 1);
  $("no-connections").textContent = filtered() ? "No connection matches this search." : "No Zoom account is connected yet.";
  renderConnections(page.connections);
}

function renderConnections(list) {
  const table = $("connections");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  $("no-connections").hidden = list.length > 0;
  table.hidden = list.length === 0;
  for (const c of list) {
    const row = el("tr");
    row.dataset.id = c.id;
    row.append(el("td", c.email), el("td", c.zoom_user_id), el("td", c.app_type === "account" ? "Account-level" : "User-level"));
    const status = el("td");
    const label = STATUS_LABELS[c.status] || c.status;
    status.append(el("span", label, "badge " + c.status));
    if (c.status_reason) status.append(el("span", c.status_reason, "reason"));
    row.append(status, el("td", (c.scopes || []).join(" ") || "—"), el("td", when(c.expires_at)), el("td", when(c.last_refreshed_at)));
    const actions = el("td");
    const button = el("button", "Disconnect", "danger");
    button.type = "button";
    button.setAttribute("aria-label", "Disconnect " + c.email);
    button.addEventListener("click", () => disconnect(c, button));
    actions.append(button);
    row.append(actions);
    body.append(row);
  }
}

// One row per Zoom account entry: ✓ S2S, ⚠ JWT with days left, ✕ JWT past the cutoff.
const ACCOUNT_ICON = {
  ok: ["state-ok", "✓"],
  jwt_expiring: ["state-warn", "⚠"],
  jwt_expired: ["state-bad", "✕"],
};

function accountRow(kind, a, text) {
  const [cls, mark] = ACCOUNT_ICON[a.status] || ["state-none", "?"];
  const item = el("li");
  item.dataset.kind = kind;
  item.dataset.status = a.status;
  const icon = el("span", mark, "status-icon " + cls);
  icon.setAttribute("aria-label", a.status);
  const remove = el("button", "Remove", "danger");
  remove.type = "button";
  // The JWT entry without an email is named `org-wide` in the console's path.
  const key = a.email || "org-wide";
  remove.addEventListener("click", () => run(remove, async () => {
    await api("DELETE", "/admin/api/" + kind + "-credentials/" + encodeURIComponent(key));
    notify("ok", (kind === "s2s" ? "Server-to-Server" : "JWT") + " entry for " + (a.email || "the whole org") + " removed.");
    await load();
  }));
  item.append(icon, el("span", text, "account-text"), remove);
  return item;
}

function renderCredentials(o) {
  const list = $("accounts");
  list.replaceChildren();
  for (const a of o.s2s_accounts) {
    list.append(accountRow("s2s", a, a.email + " · Server-to-Server (account " + a.account_id + ", client " + a.client_id + "), updated " + when(a.updated_at)));
  }
  for (const a of o.jwt_accounts) {
    const left = a.status === "jwt_expired" ? "past the cutoff, Zoom refuses it" : a.days_left + " days left";
    list.append(accountRow("jwt", a, (a.email || "Whole org") + " · legacy JWT key " + a.api_key_hint + " · " + left));
  }
  $("accounts-empty").hidden = list.children.length > 0;
  $("jwt-form").hidden = !o.jwt_registration_open;
  const closed = o.jwt_registration_open ? "Leave the email empty for the key that serves the whole org." : "New JWT keys can no longer be added: Zoom closed JWT registration.";
  $("jwt-state").textContent = o.jwt_accounts.length + " JWT key(s) stored. " + closed;
  $("sdk-state").textContent = o.sdk
    ? "SDK key " + o.sdk.sdk_key + " stored, updated " + when(o.sdk.updated_at) + ". The secret is never shown again; enter both fields to replace it."
    : "Not configured. Meeting SDK apps replace the JWT app type for joining meetings from your own pages.";
  $("sdk-remove").hidden = !o.sdk;
  $("sdk-sign-form").hidden = !o.sdk;
  if (!o.sdk) $("sdk-result-box").hidden = true;
}

async function renderAudit() {
  const page = await api("GET", "/admin/api/audit?limit=20");
  const list = $("audit");
  list.replaceChildren();
  for (const e of page.events) {
    const item = el("li");
    const time = el("time", when(e.at));
    time.dateTime = e.at;
    item.append(time, el("span", e.action + " · " + e.outcome + " · " + e.actor + (e.detail ? " · " + e.detail : "")));
    list.append(item);
  }
}

async function load() {
  const o = await api("GET", "/admin/api/overview");
  csrf = o.csrf_token;
  $("org-name").textContent = "· " + o.org.name;
  $("admin-email").textContent = o.admin_email;
  $("authorize-email").textContent = o.admin_email;
  $("redirect-url").value = o.redirect_url;
  renderMigration(o.migration);
  renderCounts(o.connection_counts);
  renderFailedEvents(o.failed_events);
  // The overview carries the unfiltered first page; any other page is fetched.
  if (filtered() || view.index > 0) {
    await fetchPage();
  } else {
    renderPage(o);
  }
  renderCredentials(o);
  $("loading").hidden = true;
  $("console").hidden = false;
  $("sign-out").hidden = false;
  await renderAudit();
}

async function run(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (err) {
    if (err.message !== "signed out") notify("bad", err.message);
  } finally {
    button.disabled = false;
  }
}

function disconnect(c, button) {
  if (!window.confirm("Disconnect " + c.email + "? The grant is revoked at Zoom.")) return;
  run(button, async () => {
    const result = await api("DELETE", "/admin/api/connections/" + encodeURIComponent(c.id));
    notify(result.warning ? "warn" : "ok", result.warning || "Disconnected " + c.email + ".");
    await load();
  });
}

function formJson(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function wire() {
  $("connection-search").addEventListener("submit", (event) => {
    event.preventDefault();
    run($("search"), () => setFilter($("filter-status").value, $("search-email").value.trim()));
  });
  $("clear-search").addEventListener("click", (event) => run(event.target, () => setFilter("", "")));
  $("next-page").addEventListener("click", () => turn(1));
  $("prev-page").addEventListener("click", () => turn(-1));
  $("authorize-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const appType = new FormData(event.target).get("app_type");
    run($("authorize"), async () => {
      const link = await api("POST", "/admin/api/authorize", { app_type: appType });
      window.location.assign(link.url);
    });
  });
  $("copy-redirect").addEventListener("click", async () => {
    const input = $("redirect-url");
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      notify("ok", "Redirect URL copied.");
    } catch (_) {
      notify("warn", "Copy failed; select the URL and copy it by hand.");
    }
  });
  $("s2s-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    run(form.querySelector("button[type=submit]"), async () => {
      await api("PUT", "/admin/api/s2s-credentials", formJson(form));
      form.reset();
      notify("ok", "Server-to-Server credentials saved and checked with Zoom.");
      await load();
    });
  });
  $("jwt-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    run(form.querySelector("button[type=submit]"), async () => {
      const body = formJson(form);
      if (!body.email) delete body.email; // no email: the key for the whole org
      await api("PUT", "/admin/api/jwt-credentials", body);
      form.reset();
      notify("ok", "JWT key saved.");
      await load();
    });
  });
  $("sdk-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    run(form.querySelector("button[type=submit]"), async () => {
      await api("PUT", "/admin/api/sdk-credentials", formJson(form));
      form.reset();
      notify("ok", "Meeting SDK app saved.");
      await load();
    });
  });
  $("sdk-remove").addEventListener("click", (event) => run(event.target, async () => {
    await api("DELETE", "/admin/api/sdk-credentials");
    notify("ok", "Meeting SDK app removed.");
    await load();
  }));
  $("sdk-sign-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    run(form.querySelector("button[type=submit]"), async () => {
      const data = new FormData(form);
      const signed = await api("POST", "/admin/api/sdk-signature", { meeting_number: data.get("meeting_number"), role: Number(data.get("role")) });
      $("sdk-result").value = signed.signature;
      $("sdk-expires").textContent = when(signed.expires_at);
      $("sdk-result-box").hidden = false;
    });
  });
  $("sign-out").addEventListener("click", (event) => run(event.target, async () => {
    await api("POST", "/admin/logout");
    showSignedOut();
  }));
}

function showResultFromQuery() {
  const params = new URLSearchParams(window.location.search);
  const status = params.get("status");
  if (status && RESULT[status]) {
    const [kind, text] = RESULT[status];
    notify(kind, text);
    window.history.replaceState(null, "", window.location.pathname);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  wire();
  showResultFromQuery();
  load().catch((err) => {
    if (err.message !== "signed out") notify("bad", err.message);
  });
});
