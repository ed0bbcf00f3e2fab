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
    const label = c.status === "needs_reauth" ? "⚠ Needs re-authorization" : c.status === "active" ? "Active" : "Revoked";
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

function renderCredentials(o) {
  $("s2s-state").textContent = o.s2s
    ? "Stored for " + o.s2s.email + " (account " + o.s2s.account_id + ", client " + o.s2s.client_id + "), updated " + when(o.s2s.updated_at) + ". The secret is never shown again; enter all fields to replace it."
    : "Not configured.";
  $("s2s-remove").hidden = !o.s2s;
  $("jwt-form").hidden = !o.jwt_registration_open;
  $("jwt-remove").hidden = !o.jwt;
  const closed = o.jwt_registration_open ? "" : " New JWT keys can no longer be added: Zoom closed JWT registration.";
  $("jwt-state").textContent = (o.jwt ? "A JWT key (" + o.jwt.api_key_hint + ") is stored, updated " + when(o.jwt.updated_at) + "." : "No JWT key is stored.") + closed;
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
  renderConnections(o.connections);
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
  $("s2s-remove").addEventListener("click", (event) => run(event.target, async () => {
    await api("DELETE", "/admin/api/s2s-credentials");
    notify("ok", "Server-to-Server credentials removed.");
    await load();
  }));
  $("jwt-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    run(form.querySelector("button[type=submit]"), async () => {
      await api("PUT", "/admin/api/jwt-credentials", formJson(form));
      form.reset();
      notify("ok", "JWT key saved.");
      await load();
    });
  });
  $("jwt-remove").addEventListener("click", (event) => run(event.target, async () => {
    await api("DELETE", "/admin/api/jwt-credentials");
    notify("ok", "JWT key removed.");
    await load();
  }));
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
