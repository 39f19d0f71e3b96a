// The rotation editor: order (drag or Alt+arrow keys), per-entry duration and transition;
// the [rotation], [transitions], [schedule] and [ticker] settings as generated forms.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const { api, act, notice, el } = ledhost;
  const list = document.getElementById("entries");
  let kinds = [];
  let choices = [];
  let windowSchema = { type: "object", properties: {} };
  let serial = 0;

  // An entry as the config writes it: "instance:mode" or { mode, duration, ... }.
  const asTable = (item) => (typeof item === "string" ? { mode: item } : { ...item });
  function asConfig(entry) {
    const out = { ...entry };
    for (const key of Object.keys(out)) {
      const empty = out[key] === undefined || out[key] === "" || out[key] === null
        || (Array.isArray(out[key]) && out[key].length === 0);
      if (empty) delete out[key];
    }
    return Object.keys(out).length === 1 ? out.mode : out;
  }

  function describeWhen(when) {
    return (when || []).map((w) => `${w.days || "all"} ${w.from || "00:00"}–${w.to || "24:00"}`).join(", ");
  }

  function move(li, by) {
    const items = [...list.children];
    const at = items.indexOf(li);
    const to = at + by;
    if (to < 0 || to >= items.length) return;
    if (by < 0) list.insertBefore(li, items[to]);
    else list.insertBefore(li, items[to].nextSibling);
    renumber();
    li.focus();
  }

  function renumber() {
    [...list.children].forEach((li, index) => {
      li.querySelector(".position").textContent = `${index + 1}.`;
      li.setAttribute("aria-label", `Entry ${index + 1}: ${li.entry.mode}`);
    });
  }

  function row(entry) {
    const li = el("li", { class: "entry", draggable: "true", tabindex: "0" });
    li.entry = entry;
    const duration = el("input", { type: "number", min: "1", max: "86400", step: "any",
      class: "duration", placeholder: "default", "aria-label": `Seconds for ${entry.mode}` });
    if (entry.duration !== undefined) duration.value = entry.duration;
    duration.addEventListener("input", () => {
      entry.duration = duration.value === "" ? undefined : Number(duration.value);
    });
    const transition = el("select", { "aria-label": `Transition to ${entry.mode}` },
      el("option", { value: "", text: "default transition" }),
      ...kinds.map((k) => el("option", { value: k, text: k })));
    transition.value = entry.transition || "";
    transition.addEventListener("change", () => { entry.transition = transition.value || undefined; });
    // When the entry shows: time windows, edited with the same form builder as the rest
    // (an entry without windows shows at any time).
    const summary = el("summary", { text: entry.when && entry.when.length
      ? `Only ${describeWhen(entry.when)}` : "Any time" });
    const box = el("div");
    serial += 1;
    const windows = new SchemaForm.Form(box, { type: "object", properties: {
      when: { type: "array", title: "Only at these times", items: windowSchema } } },
    { when: entry.when || [] }, `w${serial}`);
    const sync = () => {
      entry.when = windows.values().when;
      summary.textContent = entry.when.length ? `Only ${describeWhen(entry.when)}` : "Any time";
    };
    box.addEventListener("input", sync);
    box.addEventListener("click", () => setTimeout(sync));
    const when = el("details", { class: "when" }, summary, box);
    const fade = el("input", { type: "number", min: "0.05", max: "10", step: "any", class: "duration",
      placeholder: "default", "aria-label": `Transition seconds for ${entry.mode}` });
    if (entry.transition_duration !== undefined) fade.value = entry.transition_duration;
    fade.addEventListener("input", () => {
      entry.transition_duration = fade.value === "" ? undefined : Number(fade.value);
    });
    li.append(
      el("span", { class: "handle", "aria-hidden": "true", text: "⠿" }),
      el("span", { class: "position" }),
      el("strong", { class: "mode", text: entry.mode }),
      el("label", { class: "inline" }, "Seconds ", duration),
      transition,
      el("label", { class: "inline" }, "taking ", fade, " s"),
      when,
      el("span", { class: "buttons" },
        el("button", { type: "button", class: "small", text: "↑", "aria-label": `Move ${entry.mode} up`,
          onclick: () => move(li, -1) }),
        el("button", { type: "button", class: "small", text: "↓", "aria-label": `Move ${entry.mode} down`,
          onclick: () => move(li, 1) }),
        el("button", { type: "button", class: "small", text: "Remove", "aria-label": `Remove ${entry.mode}`,
          onclick: () => { li.remove(); renumber(); } })),
    );
    li.addEventListener("keydown", (event) => {
      if (event.target !== li || !event.altKey) return;
      if (event.key === "ArrowUp") { event.preventDefault(); move(li, -1); }
      if (event.key === "ArrowDown") { event.preventDefault(); move(li, 1); }
    });
    li.addEventListener("dragstart", (event) => {
      li.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", entry.mode);
    });
    li.addEventListener("dragend", () => { li.classList.remove("dragging"); renumber(); });
    return li;
  }

  // While dragging, the dragged entry moves to where the pointer is.
  list.addEventListener("dragover", (event) => {
    const dragging = list.querySelector(".dragging");
    if (!dragging) return;
    event.preventDefault();
    const after = [...list.querySelectorAll(".entry:not(.dragging)")].find((li) => {
      const box = li.getBoundingClientRect();
      return event.clientY < box.top + box.height / 2;
    });
    if (after) list.insertBefore(dragging, after);
    else list.append(dragging);
  });
  list.addEventListener("drop", (event) => event.preventDefault());

  async function load() {
    const [rotation, status, transitions, schedule] = await Promise.all([
      api("GET", "/api/v1/config/rotation"),
      api("GET", "/api/v1/status").catch(() => ({ data: { plugins: {} } })),
      api("GET", "/api/v1/config/schema/transitions"),
      api("GET", "/api/v1/config/schema/schedule"),
    ]);
    kinds = transitions.data.properties.kind.enum;
    windowSchema = schedule.data.properties.on.items;
    choices = ["@ticker"];
    for (const [instance, entry] of Object.entries(status.data.plugins)) {
      choices.push(instance, ...(entry.modes || []).map((m) => `${instance}:${m}`));
    }
    document.getElementById("add-mode").replaceChildren(
      ...choices.map((c) => el("option", { value: c, text: c })));
    list.replaceChildren(...rotation.data.modes.map((item) => row(asTable(item))));
    renumber();
  }

  document.getElementById("add-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const li = row({ mode: document.getElementById("add-mode").value });
    list.append(li);
    renumber();
    li.focus();
  });
  document.getElementById("save-order").addEventListener("click", (event) => {
    const modes = [...list.children].map((li) => asConfig(li.entry));
    act(event.currentTarget, () => api("PUT", "/api/v1/config/rotation", { modes }),
      "Saved; the rotation follows the new order");
  });

  // Each [layouts.<name>] is a form of its regions (schema: /api/v1/config/schema/layout).
  async function loadLayouts() {
    const box = document.getElementById("layouts");
    try {
      const [schema, layouts] = await Promise.all([
        api("GET", "/api/v1/config/schema/layout"),
        api("GET", "/api/v1/config/layouts").catch(() => ({ data: {} })),
      ]);
      const names = Object.keys(layouts.data);
      box.replaceChildren(...(names.length ? names.map((name) => layoutForm(name, schema.data, layouts.data[name]))
        : [el("p", { class: "muted", text: "No layouts yet." })]));
      document.getElementById("add-layout").onsubmit = (event) => {
        event.preventDefault();
        const name = document.getElementById("layout-name").value;
        if (box.querySelector(`[data-layout="${CSS.escape(name)}"]`)) return;
        if (!names.length) box.replaceChildren();
        box.append(layoutForm(name, schema.data, { regions: [] }));
      };
    } catch (error) {
      box.replaceChildren(el("p", { class: "error", text: error.message }));
    }
  }

  function layoutForm(name, schema, values) {
    const fields = el("div");
    const form = el("form", { class: "layout-form", "data-layout": name, novalidate: true },
      el("h3", { text: `@${name}` }), fields, el("button", { type: "submit", text: `Save @${name}` }));
    const built = new SchemaForm.Form(fields, schema, values, `l-${name}`);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(event.submitter, () => api("PUT", `/api/v1/config/layouts.${encodeURIComponent(name)}`, built.values()),
        `Saved @${name}`);
    });
    return form;
  }

  loadLayouts();
  try {
    await load();
  } catch (error) {
    notice(error.message, "error");
  }
  for (const form of document.querySelectorAll("form.section-form")) {
    SchemaForm.section(form, { skip: form.dataset.section === "rotation" ? ["modes"] : [] });
  }
});
