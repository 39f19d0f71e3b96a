// The plugins page: every instance with its state, and the operations on it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, act, el } = ledhost;
  const body = document.querySelector("#plugins tbody");
  // Two readings of an instance's CPU seconds make its share of a core since the last one.
  const lastCpu = new Map();
  function cpuShare(instance, entry) {
    const now = performance.now() / 1000;
    const before = lastCpu.get(instance);
    if (typeof entry.cpu_seconds !== "number") return "–";
    lastCpu.set(instance, { at: now, seconds: entry.cpu_seconds });
    if (!before || entry.cpu_seconds < before.seconds || now - before.at < 0.5) return "…";
    return `${(((entry.cpu_seconds - before.seconds) / (now - before.at)) * 100).toFixed(1)} %`;
  }

  function row(instance, entry) {
    const op = (name, label) => el("button", {
      type: "button", "data-op": name, "aria-label": `${label} ${instance}`, text: label,
      onclick: (event) => act(event.currentTarget,
        () => api("POST", `/api/v1/plugins/${encodeURIComponent(instance)}/${name}`),
        `${label}: ${instance}`).then(refresh),
    });
    const memory = entry.memory_mb == null ? "–" : `${entry.memory_mb.toFixed(1)} MB`;
    return el("tr", { "data-instance": instance },
      el("th", { scope: "row" }, el("a", { href: `/plugins/${encodeURIComponent(instance)}`, text: instance }),
        entry.plugin !== instance ? el("span", { class: "muted", text: ` (${entry.plugin})` }) : null),
      el("td", {}, el("span", { class: `state state-${entry.state}`, text: entry.state })),
      el("td", { "data-label": "Restarts", text: String(entry.restarts) }),
      el("td", { "data-label": "Memory", text: memory }),
      el("td", { "data-label": "CPU", text: cpuShare(instance, entry) }),
      el("td", { class: "error-cell", text: entry.last_error || "" }),
      el("td", { class: "buttons" }, op("restart", "Restart"), op("retry", "Retry"),
        entry.state === "disabled" ? op("enable", "Enable") : op("disable", "Disable")),
    );
  }

  // Instances the config has but the host does not run (disabled) are listed too, so
  // they can be enabled again.
  async function refresh() {
    try {
      const [{ data }, configured] = await Promise.all([
        api("GET", "/api/v1/status"),
        api("GET", "/api/v1/config/plugins").catch(() => ({ data: {} })),
      ]);
      const entries = { ...data.plugins };
      for (const [id, table] of Object.entries(configured.data)) {
        if (!(id in entries) && table && table.enabled === false) {
          entries[id] = { plugin: table.plugin || id, state: "disabled", restarts: 0, memory_mb: null };
        }
      }
      const rows = Object.entries(entries).map(([id, entry]) => row(id, entry));
      body.replaceChildren(...(rows.length ? rows
        : [el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No plugin instances." }))]));
    } catch (error) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: "7", class: "error", text: error.message })));
    }
  }

  async function loadPlugins() {
    try {
      const { plugins } = await api("GET", "/api/v1/plugins");
      document.getElementById("add-plugin").replaceChildren(
        ...plugins.map((p) => el("option", { value: p.name, text: `${p.name} ${p.version || ""}` })));
    } catch (error) {
      ledhost.notice(error.message, "error");
    }
  }
  document.getElementById("add-instance").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = document.getElementById("add-id").value;
    const plugin = document.getElementById("add-plugin").value;
    act(event.submitter, () => api("PUT", `/api/v1/config/plugins.${encodeURIComponent(id)}`, { plugin }),
      `Added ${id}; add its modes to the rotation to show it`).then(refresh);
  });

  loadPlugins();
  refresh();
  setInterval(refresh, 5000);
});
