// One plugin instance: state and operations, its generated config form, actions, log.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const { api, act, notice, el } = ledhost;
  const root = document.getElementById("plugin");
  const instance = root.dataset.instance;
  const base = `/api/v1/plugins/${encodeURIComponent(instance)}`;
  const $ = (id) => document.getElementById(id);
  let form = null;

  async function refreshState() {
    try {
      const { data } = await api("GET", "/api/v1/status");
      const entry = data.plugins[instance];
      if (!entry) {
        $("p-state").textContent = "not running (disabled, or not in the config)";
        return;
      }
      $("p-plugin").textContent = entry.plugin;
      $("p-state").replaceChildren(el("span", { class: `state state-${entry.state}`, text: entry.state }));
      $("p-restarts").textContent = String(entry.restarts);
      $("p-memory").textContent = entry.memory_mb == null ? "–" : `${entry.memory_mb.toFixed(1)} MB`;
      $("p-error").textContent = entry.last_error || "none";
    } catch (error) {
      $("p-state").textContent = error.message;
    }
  }

  async function loadForm() {
    let info;
    try {
      info = (await api("GET", base)).data;
    } catch (error) {
      $("fields").replaceChildren(el("p", { class: "error", text: error.message }));
      return;
    }
    $("p-plugin").textContent = `${info.plugin} ${info.version} (${info.source})`;
    if (!info.schema) {
      $("fields").replaceChildren(el("p", { class: "muted", text:
        info.modes.length ? "This plugin has no options." : "The plugin has not started yet; its options appear once it has." }));
      $("options").querySelector("button[type=submit]").hidden = true;
    } else {
      form = new SchemaForm.Form($("fields"), info.schema, info.config);
    }
    $("modes").replaceChildren(...(info.modes.length ? info.modes.map((mode) => el("li", {},
      el("span", { text: `${mode.name} ` }),
      el("button", { type: "button", class: "small", text: "Preview",
        "aria-label": `Preview ${mode.name}`, onclick: (e) => preview(e.currentTarget, mode.name) })))
      : [el("li", { class: "muted", text: "No modes yet." })]));
    const actions = $("actions");
    actions.replaceChildren(...info.actions.map(actionControl));
    $("actions-card").hidden = info.actions.length === 0;
  }

  // One frame of a mode, rendered by the host through a real worker, drawn as LEDs.
  async function preview(button, mode) {
    await act(button, async () => {
      const response = await fetch(`${base}/modes/${encodeURIComponent(mode)}/preview.png`,
        { credentials: "same-origin" });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body.message || response.statusText);
      }
      const bitmap = await createImageBitmap(await response.blob());
      const scratch = new OffscreenCanvas(bitmap.width, bitmap.height).getContext("2d");
      scratch.drawImage(bitmap, 0, 0);
      const rgba = scratch.getImageData(0, 0, bitmap.width, bitmap.height).data;
      const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
      for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
        rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
      }
      $("mode-preview-wrap").hidden = false;
      const canvas = $("mode-preview");
      canvas.setAttribute("aria-label", `Preview of ${mode}`);
      canvas.dataset.mode = mode;
      window.ledhostPreview.draw(canvas, { width: bitmap.width, height: bitmap.height, seq: 0, rgb });
    });
  }

  // An action without parameters is a button; one with parameters gets a small form
  // built from its parameters' schema, like the options.
  function actionControl(action) {
    const title = action.title || action.name;
    const run = (button, args) => act(button,
      () => api("POST", `${base}/actions/${encodeURIComponent(action.name)}`, args),
      `${title}: done`);
    if (!action.params || !Object.keys(action.params.properties || {}).length) {
      return el("button", { type: "button", text: title, onclick: (e) => run(e.currentTarget, {}) });
    }
    const fields = el("div");
    const params = new SchemaForm.Form(fields, action.params, {}, `a-${action.name}`);
    const formNode = el("form", { class: "action-form card" }, el("h3", { text: title }), fields,
      el("button", { type: "submit", text: title }));
    formNode.addEventListener("submit", (event) => {
      event.preventDefault();
      run(event.submitter, params.values());
    });
    return formNode;
  }

  // The host's own validator, as the user types (debounced): the same message as on save.
  let validateTimer = null;
  async function validate() {
    if (!form) return true;
    const result = await api("POST", `${base}/validate`, form.values());
    const unplaced = form.showIssues(result.issues, `plugins.${instance}`);
    const box = $("options-error");
    box.textContent = unplaced.join("\n");
    box.hidden = unplaced.length === 0;
    return result.ok;
  }
  $("options").addEventListener("input", () => {
    clearTimeout(validateTimer);
    validateTimer = setTimeout(() => validate().catch((e) => notice(e.message, "error")), 300);
  });
  $("options").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form) return;
    const button = event.submitter;
    button.disabled = true;
    try {
      if (!(await validate())) {
        notice("Not saved: fix the fields marked below.", "error");
        return;
      }
      await api("PUT", `/api/v1/config/plugins.${instance}`, form.values());
      // Secrets go to the secrets file, one write-only call each; never read back.
      for (const [key, value] of Object.entries(form.secretValues())) {
        await api("PUT", `/api/v1/secrets/${encodeURIComponent(instance)}/${encodeURIComponent(key)}`, { value });
      }
      notice("Saved; the plugin has its new options.");
      loadForm();
    } catch (error) {
      notice(error.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  root.querySelectorAll("button[data-op]").forEach((button) => {
    button.addEventListener("click", () => act(button,
      () => api("POST", `${base}/${button.dataset.op}`), `${button.textContent}: ${instance}`)
      .then(refreshState));
  });

  async function refreshLog() {
    const log = $("log");
    try {
      const { data } = await api("GET", `${base}/logs?lines=200`);
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = data.length
        ? data.map((r) => `${new Date(r.time * 1000).toLocaleTimeString()} ${r.level} ${r.message}`).join("\n")
        : "No log records.";
      if (atBottom) log.scrollTop = log.scrollHeight;
    } catch (error) {
      log.textContent = error.message;
    }
  }

  refreshState();
  loadForm();
  refreshLog();
  setInterval(refreshState, 5000);
  setInterval(refreshLog, 5000);
});
