// The store page: browse the registries, install/update/roll back/uninstall with live
// progress (the host runs the store's commands; this page polls the job).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, notice, el } = ledhost;
  const $ = (id) => document.getElementById(id);
  let installed = {};

  async function loadInstalled() {
    try {
      const { data } = await api("GET", "/api/v1/store/installed");
      const rows = Array.isArray(data) ? data : (data.plugins || []);
      installed = Object.fromEntries(rows.map((row) => [row.id, row]));
      $("installed").replaceChildren(...(rows.length ? rows.map((row) => el("li", { "data-plugin": row.id },
        el("strong", { text: `${row.id} ` }), el("span", { text: `${row.version} ` }),
        el("span", { class: "muted", text: row.previous ? `(previous ${row.previous}) ` : "" }),
        el("span", { class: "buttons" },
          change("update", row.id, "Update"),
          row.previous ? change("rollback", row.id, "Roll back") : null,
          change("uninstall", row.id, "Uninstall"))))
        : [el("li", { class: "muted", text: "Nothing installed from the store yet." })]));
    } catch (error) {
      $("installed").replaceChildren(el("li", { class: "error", text: error.message }));
    }
  }

  function change(op, target, label, version) {
    return el("button", { type: "button", class: "small", text: label, "aria-label": `${label} ${target}`,
      onclick: (event) => run(event.currentTarget, { op, target, version }) });
  }

  async function run(button, body) {
    if (body.op === "uninstall" && !confirm(`Uninstall ${body.target}? It will not come back unless you install it again.`)) return;
    if (button) button.disabled = true;
    try {
      const { data } = await api("POST", "/api/v1/store/jobs", body);
      follow(data.id, `${body.op} ${body.target}`);
    } catch (error) {
      notice(error.message, "error");
    } finally {
      if (button) button.disabled = false;
    }
  }

  async function follow(id, what) {
    $("job-card").hidden = false;
    $("job-state").textContent = `${what}: running…`;
    $("job-card").dataset.state = "running";
    for (;;) {
      let job;
      try {
        job = (await api("GET", `/api/v1/store/jobs/${id}`)).data;
      } catch (error) {
        $("job-state").textContent = `${what}: ${error.message}`;
        return;
      }
      $("job-lines").textContent = job.lines.join("\n");
      $("job-card").dataset.state = job.state;
      if (job.state !== "running") {
        $("job-state").textContent = job.state === "done" ? `${what}: done` : `${what}: failed — ${job.error}`;
        notice($("job-state").textContent, job.state === "done" ? "ok" : "error");
        loadInstalled();
        search();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  function entry(plugin) {
    const newest = plugin.versions && plugin.versions[0];
    const have = installed[plugin.id];
    const action = have ? (newest && newest.version !== have.version ? change("update", plugin.id, `Update to ${newest.version}`) : null)
      : change("install", plugin.id, "Install");
    return el("li", { class: "catalog-entry", "data-plugin": plugin.id },
      plugin.screenshot && plugin.screenshot.startsWith("/") ? el("img", { src: plugin.screenshot, alt: "", width: "128" }) : null,
      el("div", {},
        el("strong", { text: plugin.name || plugin.id }),
        el("span", { class: "muted", text: ` ${plugin.id} ${newest ? newest.version : ""}${have ? ` (installed ${have.version})` : ""}` }),
        el("p", { text: plugin.description || "" }),
        plugin.author ? el("p", { class: "muted", text: `by ${plugin.author}${plugin.category ? ` · ${plugin.category}` : ""}` }) : null),
      el("div", { class: "buttons" }, action));
  }

  async function search(refresh = false) {
    const q = $("search-text").value;
    $("catalog-note").textContent = "Loading…";
    try {
      const { data } = await api("GET", `/api/v1/store/plugins?q=${encodeURIComponent(q)}${refresh ? "&refresh=1" : ""}`);
      const plugins = data.plugins || [];
      $("catalog").replaceChildren(...(plugins.length ? plugins.map(entry)
        : [el("li", { class: "muted", text: q ? "No plugin matches." : "The registries list no plugins." })]));
      const notes = [...(data.stale || []), ...(data.warnings || [])];
      $("catalog-note").textContent = notes.join(" ");
    } catch (error) {
      $("catalog").replaceChildren();
      $("catalog-note").textContent = error.message;
    }
  }

  $("search-form").addEventListener("submit", (event) => { event.preventDefault(); search(); });
  $("refresh").addEventListener("click", () => search(true));
  $("url-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run(event.submitter, { op: "install", target: $("wheel-url").value });
  });
  $("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("wheel-file").files[0];
    if (!file) return;
    const button = event.submitter;
    button.disabled = true;
    try {
      const form = new FormData();
      form.append("wheel", file, file.name);
      const response = await fetch("/api/v1/store/upload", {
        method: "POST", body: form, credentials: "same-origin",
        headers: { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.message || response.statusText);
      follow(body.data.id, `install ${file.name}`);
    } catch (error) {
      notice(error.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  loadInstalled().then(() => search());
});
