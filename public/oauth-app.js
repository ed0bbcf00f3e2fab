// The org's own Zoom OAuth app panel. Uses app.js's helpers ($, api, run, notify).
"use strict";

async function loadOwnApp() {
  const panel = await api("GET", "/admin/api/oauth-app");
  $("own-app-redirect").value = panel.redirect_url;
  $("own-app-webhook").value = panel.webhook_url;
  const own = panel.app;
  $("own-app-state").textContent = own
    ? "Set: client " + own.client_id + " (" + own.app_type + " app)" +
      (own.webhook_secret_set ? ", with a webhook secret token" : ", no webhook secret token") +
      ". Secrets are never shown again; enter them again to rotate."
    : "Not set: connections use the deployment's Zoom app.";
  $("own-app-remove").hidden = !own;
  if (own) {
    $("own-app-client").value = own.client_id;
    $("own-app-type").value = own.app_type;
  }
}

function copyField(input, what) {
  return async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      notify("ok", what + " copied.");
    } catch (_) {
      notify("warn", "Copy failed; select the URL and copy it by hand.");
    }
  };
}

document.addEventListener("DOMContentLoaded", () => {
  $("own-app-copy-redirect").addEventListener("click", copyField($("own-app-redirect"), "Redirect URL"));
  $("own-app-copy-webhook").addEventListener("click", copyField($("own-app-webhook"), "Event notification URL"));
  $("own-app-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const body = Object.fromEntries(new FormData(form).entries());
    if (!body.webhook_secret_token) delete body.webhook_secret_token;
    run(form.querySelector("button[type=submit]"), async () => {
      await api("PUT", "/admin/api/oauth-app", body);
      $("own-app-secret").value = "";
      $("own-app-token").value = "";
      notify("ok", "Your Zoom app is saved.");
      await load();
      await loadOwnApp();
    });
  });
  $("own-app-remove").addEventListener("click", (event) => run(event.target, async () => {
    await api("DELETE", "/admin/api/oauth-app");
    notify("ok", "Your Zoom app is removed; new connections use the deployment's app.");
    await load();
    await loadOwnApp();
  }));
  loadOwnApp().catch((err) => {
    if (err.message !== "signed out") notify("bad", err.message);
  });
});
