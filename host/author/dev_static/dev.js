// The `ledhost dev` page: the admin UI's preview and config form around one plugin.
//
// preview.js draws the frames from /api/v1/events and calls refresh() on each "state"
// event; refresh() reads /api/dev/status (modes, schema, errors, the log) and updates the
// page. The form is rebuilt only when the plugin's schema changes (a reload may change it).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, notice, el } = ledhost;
  const select = document.getElementById("mode");
  const fields = document.getElementById("config-fields");
  const logList = document.getElementById("log");
  let form = null;
  let schemaKey = null;
  let shown = 0;
  let plugin = "";

  function showError(status) {
    const card = document.getElementById("error-card");
    card.hidden = !status.last_error;
    document.getElementById("error").textContent = status.last_error || "";
    document.getElementById("traceback").textContent = status.traceback || "";
  }

  function showModes(status) {
    // The rotation skips a mode without content: say so beside its name.
    const text = (m) => (m.title ? `${m.title} (${m.name})` : m.name)
      + (status.content[m.name] === false ? " · no content" : "");
    const key = status.modes.map((m) => text(m)).join(",");
    if (select.dataset.names !== key) {
      select.replaceChildren(...status.modes.map((m) => el("option", { value: m.name, text: text(m) })));
      select.dataset.names = key;
    }
    if (status.mode) select.value = status.mode;
  }

  function showLog(status) {
    for (const event of status.events) {
      if (event.seq <= shown) continue;
      shown = event.seq;
      const when = new Date(event.time * 1000).toLocaleTimeString();
      const item = el("li", { class: `ev-${event.kind}` }, el("span", { class: "muted", text: `${when} ` }),
        el("span", { text: event.text }));
      if (event.traceback) item.append(el("pre", { class: "traceback", text: event.traceback }));
      logList.append(item);
    }
    while (logList.children.length > 500) logList.firstElementChild.remove();
    document.body.dataset.eventSeq = String(shown);
  }

  async function refresh() {
    let status;
    try {
      status = await api("GET", "/api/dev/status");
    } catch (error) {
      return;
    }
    plugin = status.plugin;
    const state = document.getElementById("state");
    state.textContent = status.state;
    state.className = `state state-${status.state}`;
    showModes(status);
    showError(status);
    const key = JSON.stringify(status.schema);
    if (key !== schemaKey && status.state === "running") {
      schemaKey = key;
      form = new SchemaForm.Form(fields, status.schema, status.options, "dev");
    }
    showLog(status);
    document.body.dataset.state = status.state;
    document.body.dataset.reloads = String(status.reloads);
  }

  select.addEventListener("change", () =>
    api("POST", "/api/dev/mode", { mode: select.value }).catch((e) => notice(e.message, "error")));
  document.getElementById("reload").addEventListener("click", () =>
    api("POST", "/api/dev/reload").catch((e) => notice(e.message, "error")));
  document.getElementById("config-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form) return;
    try {
      const secrets = form.secretValues();
      const body = { options: form.values() };
      if (Object.keys(secrets).length) body.secrets = secrets;  // merged with those set before
      await api("POST", "/api/dev/config", body);
      form.showIssues([], "");
      notice("Config applied");
    } catch (error) {
      const issues = (error.body && error.body.issues) || [];
      const left = form.showIssues(issues, `plugins.${plugin}`);
      notice(left.length ? left.join("; ") : error.message, "error");
    }
  });
  ledhostPreview.start(document.getElementById("preview"), document.getElementById("live"),
    { onState: refresh });
  refresh();
});
