// A config form built from a plugin's JSON Schema (the one its worker announced).
//
// Covers what plugin schemas use: strings (enum -> select, "format": "color" -> colour
// picker, "format": "time-zone" -> a list of zones), numbers and integers with bounds,
// booleans, arrays (of values or of objects, add/remove/reorder), nested objects, and
// write-only secrets (never shown; see docs/web.md). The browser checks what HTML can
// (bounds, lengths, patterns) at once; the host's own validator has the last word through
// POST /api/v1/plugins/<instance>/validate, whose messages are shown under each field.
"use strict";

window.SchemaForm = (() => {
  const { el } = ledhost;
  const BARE = /^[A-Za-z0-9_-]+$/;

  // The key path as the host's messages write it: messages[0].text, "odd key".x
  function keyOf(path) {
    let text = "";
    for (const part of path) {
      if (typeof part === "number") text += `[${part}]`;
      else {
        const shown = BARE.test(part) ? part : JSON.stringify(part);
        text += text ? `.${shown}` : shown;
      }
    }
    return text;
  }


  function typeOf(schema) {
    if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null") || "string";
    if (schema.type) return schema.type;
    if (schema.enum) return typeof schema.enum[0];
    if (schema.properties) return "object";
    return "string";
  }

  function help(schema, id) {
    return schema.description ? el("p", { class: "help", id: `${id}-help`, text: schema.description }) : null;
  }

  let zones = null;
  function zoneList() {
    if (zones) return zones;
    zones = el("datalist", { id: "time-zones" });
    const names = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    for (const name of names) zones.append(el("option", { value: name }));
    document.body.append(zones);
    return zones;
  }

  class Form {
    // ``scope`` keeps ids apart when a page holds several forms (options, action params).
    constructor(container, schema, values, scope = "f") {
      this.container = container;
      this.scope = scope;
      this.schema = schema || { type: "object", properties: {} };
      this.readers = [];
      this.errors = new Map();
      container.replaceChildren(this.objectFields(this.schema, values || {}, [], null));
    }

    // Each input registers how to read its value back; values() walks them.
    objectFields(schema, values, path, legend) {
      const props = schema.properties || {};
      const box = legend === null ? el("div", { class: "fields" })
        : el("fieldset", { class: "fields" }, el("legend", { text: legend }));
      const readers = [];
      for (const [name, sub] of Object.entries(props)) {
        const field = this.field(sub, values[name], [...path, name], name);
        box.append(field.node);
        readers.push([name, field]);
      }
      const read = () => {
        const out = {};
        for (const [name, field] of readers) {
          const value = field.read();
          if (value !== undefined) out[name] = value;
        }
        return out;
      };
      if (path.length === 0) this.readRoot = read;
      return legend === null ? box : { node: box, read };
    }

    idOf(path) { return `${this.scope}-` + keyOf(path).replace(/[^A-Za-z0-9_-]/g, "_"); }

    errorBox(path) {
      const id = this.idOf(path);
      const box = el("p", { class: "field-error", id: `${id}-error`, role: "alert", hidden: true });
      this.errors.set(keyOf(path), box);
      return box;
    }

    field(schema, value, path, name) {
      const id = this.idOf(path);
      const label = schema.title || name;
      const type = typeOf(schema);
      if (value === undefined) value = schema.default;
      if (schema.writeOnly) return this.secret(schema, value, path, id, label);
      if (type === "object") {
        const nested = this.objectFields(schema, value || {}, path, label);
        nested.node.append(this.errorBox(path));
        return nested;
      }
      if (type === "array") return this.array(schema, value || [], path, id, label);
      if (type === "boolean") {
        const input = el("input", { type: "checkbox", id, "aria-describedby": `${id}-help ${id}-error` });
        input.checked = Boolean(value);
        return {
          node: el("div", { class: "field check" }, input, el("label", { for: id, text: label }),
            help(schema, id), this.errorBox(path)),
          read: () => input.checked,
        };
      }
      const input = this.input(schema, type, value, id);
      return {
        node: el("div", { class: "field" }, el("label", { for: id, text: label }), input,
          help(schema, id), this.errorBox(path)),
        read: () => readValue(input, type),
      };
    }

    input(schema, type, value, id) {
      const common = { id, name: id, "aria-describedby": `${id}-help ${id}-error` };
      if (schema.enum) {
        const select = el("select", common,
          ...schema.enum.map((option) => el("option", { value: JSON.stringify(option), text: String(option) })));
        if (value !== undefined) select.value = JSON.stringify(value);
        select.dataset.enum = "1";
        return select;
      }
      if (type === "number" || type === "integer") {
        const min = schema.minimum ?? schema.exclusiveMinimum;
        const max = schema.maximum ?? schema.exclusiveMaximum;
        const input = el("input", { ...common, type: "number", inputmode: type === "integer" ? "numeric" : "decimal",
          min, max, step: type === "integer" ? "1" : "any" });
        if (value !== undefined && value !== null) input.value = String(value);
        return input;
      }
      if (schema.format === "color") {
        const input = el("input", { ...common, type: "color" });
        input.value = /^#[0-9a-fA-F]{6}$/.test(value || "") ? value.toLowerCase() : "#ffffff";
        return input;
      }
      const attrs = { ...common, type: "text", maxlength: schema.maxLength, minlength: schema.minLength,
        pattern: htmlPattern(schema.pattern), placeholder: (schema.examples || [])[0] };
      if (schema.format === "time-zone") attrs.list = zoneList().id;
      const long = (schema.maxLength || 0) > 200;
      const input = long ? el("textarea", { ...attrs, rows: "3", type: null, pattern: null }) : el("input", attrs);
      input.value = value == null ? "" : String(value);
      return input;
    }

    secret(schema, value, path, id, label) {
      const state = value === "set" ? "set" : "not set";
      const input = el("input", { type: "password", id, autocomplete: "off",
        placeholder: value === "set" ? "•••••• (set; type to replace)" : "not set",
        "aria-describedby": `${id}-help ${id}-error` });
      input.dataset.secret = path[path.length - 1];
      return {
        node: el("div", { class: "field secret" },
          el("label", { for: id, text: `${label} (secret, ${state})` }), input,
          help(schema, id), this.errorBox(path)),
        // Secrets never travel with the options; secretValues() collects what was typed.
        read: () => undefined,
        secret: () => input.value,
      };
    }

    array(schema, values, path, id, label) {
      const items = schema.items || { type: "string" };
      const list = el("ol", { class: "array", id });
      const entries = [];
      const box = el("fieldset", { class: "fields array-field" }, el("legend", { text: label }),
        help(schema, id), list);
      const renumber = () => entries.forEach((entry, index) => {
        entry.li.querySelectorAll("[data-index-label]").forEach((n) => { n.textContent = `${label} ${index + 1}`; });
      });
      const add = (value) => {
        const index = entries.length;
        const field = this.field(items, value, [...path, index], `${label} ${index + 1}`);
        const li = el("li", {}, field.node);
        const entry = { li, field };
        const remove = el("button", { type: "button", class: "small", text: "Remove",
          "aria-label": `Remove ${label} ${index + 1}`,
          onclick: () => {
            entries.splice(entries.indexOf(entry), 1);
            li.remove();
            renumber();
          } });
        const up = el("button", { type: "button", class: "small", text: "↑",
          "aria-label": `Move ${label} ${index + 1} up`,
          onclick: () => {
            const at = entries.indexOf(entry);
            if (at <= 0) return;
            entries.splice(at, 1);
            entries.splice(at - 1, 0, entry);
            list.insertBefore(li, entries[at].li);
          } });
        li.append(el("div", { class: "buttons" }, up, remove));
        entries.push(entry);
        list.append(li);
      };
      values.forEach(add);
      const max = schema.maxItems ?? Infinity;
      box.append(el("button", { type: "button", class: "small", text: `Add ${label.toLowerCase()}`,
        onclick: () => { if (entries.length < max) add(items.default); } }), this.errorBox(path));
      return { node: box, read: () => entries.map((entry) => entry.field.read()) };
    }

    values() { return this.readRoot(); }

    secretValues() {
      const out = {};
      this.container.querySelectorAll("input[data-secret]").forEach((input) => {
        if (input.value) out[input.dataset.secret] = input.value;
      });
      return out;
    }

    // Show the host's issues under their fields; returns the messages no field claimed.
    showIssues(issues, prefix) {
      for (const box of this.errors.values()) { box.hidden = true; box.textContent = ""; }
      this.container.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
      const unplaced = [];
      for (const issue of issues) {
        let key = issue.key || "";
        if (prefix && key.startsWith(prefix)) key = key.slice(prefix.length).replace(/^\./, "");
        const box = this.errors.get(key);
        if (!box) { unplaced.push(issue.message); continue; }
        box.textContent = issue.message;
        box.hidden = false;
        const input = document.getElementById(box.id.replace(/-error$/, ""));
        if (input) input.setAttribute("aria-invalid", "true");
      }
      return unplaced;
    }
  }

  // A JSON Schema pattern is a Python regex to the host; the browser reads the attribute as
  // a whole-value JavaScript regex with the "v" flag. One the browser cannot read is left
  // to the host's validator instead of breaking the field.
  function htmlPattern(pattern) {
    if (!pattern) return undefined;
    const whole = pattern.replace(/^\^/, "").replace(/\$$/, "");
    try {
      new RegExp(`^(?:${whole})$`, "v");
      return whole;
    } catch (_) {
      return undefined;
    }
  }

  function readValue(input, type) {
    if (input.dataset.enum) return JSON.parse(input.value);
    if (type === "number" || type === "integer") {
      if (input.value === "") return undefined;
      const number = Number(input.value);
      return Number.isNaN(number) ? input.value : number;
    }
    return input.value;
  }

  return { Form, keyOf };
})();

// A host settings section as a form: its schema from /api/v1/config/schema/<section>, its
// values from /api/v1/config/<section>, saved with PUT (the host validates the whole file
// before writing). ``form`` holds a ``.section-fields`` box and a submit button.
window.SchemaForm.section = async function section(formNode, { skip = [] } = {}) {
  const { api, notice, el } = ledhost;
  const name = formNode.dataset.section;
  const box = formNode.querySelector(".section-fields");
  let built = null;
  try {
    const [schema, values] = await Promise.all([
      api("GET", `/api/v1/config/schema/${name}`),
      api("GET", `/api/v1/config/${name}`),
    ]);
    for (const key of skip) delete schema.data.properties[key];
    built = new SchemaForm.Form(box, schema.data, values.data, `s-${name}`);
  } catch (error) {
    box.replaceChildren(el("p", { class: "error", text: error.message }));
    return null;
  }
  formNode.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    if (!formNode.checkValidity()) {
      formNode.reportValidity();
      return;
    }
    button.disabled = true;
    try {
      await api("PUT", `/api/v1/config/${name}`, built.values());
      notice(`Saved [${name}]`);
    } catch (error) {
      notice(error.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  return built;
};
