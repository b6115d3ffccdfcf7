// The in-browser modeler of /processes/edit/<draft>: bpmn-js with the Camunda 7 properties panel for diagrams,
// dmn-js for decision tables, CodeMirror for form schemas. It saves changed files into the draft, shows the last
// check's problems on their elements, and hands over to the check page. Bundled by scripts/build-modeler.mjs.
import BpmnModeler from "bpmn-js/lib/Modeler";
import DmnModeler from "dmn-js/lib/Modeler";
import {
  BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import CamundaBehaviorsModule from "camunda-bpmn-js-behaviors/lib/camunda-platform";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import { choicesModule } from "./modeler-choices.js";
import { createFormEditor } from "./form-editor.js";

import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn.css";
import "@bpmn-io/properties-panel/dist/assets/properties-panel.css";
import "dmn-js/dist/assets/dmn-js-shared.css";
import "dmn-js/dist/assets/dmn-js-drd.css";
import "dmn-js/dist/assets/dmn-js-decision-table.css";
import "dmn-js/dist/assets/dmn-js-decision-table-controls.css";
import "dmn-js/dist/assets/dmn-js-literal-expression.css";
import "dmn-js/dist/assets/dmn-font/css/dmn.css";

const root = document.getElementById("modeler");
const data = JSON.parse(document.getElementById("draft-data").textContent);
const i18n = window.BpmnI18n;
const t = i18n.translate;
const T = data.texts; // the page's own texts, from the server's catalogue (Chinese or English)
const csrf = data.csrf;
const status = document.getElementById("modeler-status");
const editors = {}; // file name -> {kind, instance, original, dirty, pane}
let revision = data.revision;
let current = null;

function say(text, kind) {
  status.textContent = text;
  status.dataset.kind = kind || "info";
}

function fileUrl(name) { return data.urls.file + encodeURIComponent(name).replace(/%2F/g, "/"); }

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
    body: JSON.stringify(body),
  });
  let answer = {};
  try { answer = await response.json(); } catch (e) { answer = {}; }
  return { ok: response.ok, status: response.status, body: answer };
}

// ------------------------------------------------------------------ problems of the last check

function problemsOf(name) { return (data.problems || []).filter((p) => p.file === name); }

function markBpmnProblems(entry, name) {
  const registry = entry.instance.get("elementRegistry");
  const canvas = entry.instance.get("canvas");
  const overlays = entry.instance.get("overlays");
  overlays.remove({ type: "problem" });
  problemsOf(name).forEach((p) => {
    const element = p.target && registry.get(p.target);
    if (!element) { return; }
    canvas.addMarker(element, "has-problem");
    const note = document.createElement("div");
    note.className = "problem-note";
    note.setAttribute("role", "note");
    note.textContent = p.message.length > 140 ? p.message.slice(0, 138) + "…" : p.message;
    note.title = p.message;
    // above the element: the context pad of a selected element opens to its right and below
    overlays.add(element, "problem", { position: { top: -6, left: -8 }, html: note });
  });
}

function markDmnProblems(entry, name) {
  const ids = problemsOf(name).map((p) => p.target).filter(Boolean);
  entry.pane.querySelectorAll(".has-problem").forEach((el) => el.classList.remove("has-problem"));
  ids.forEach((id) => {
    entry.pane.querySelectorAll(`[data-row-id="${CSS.escape(id)}"], [data-col-id="${CSS.escape(id)}"]`)
      .forEach((el) => el.classList.add("has-problem"));
  });
}

function showElement(entry, id) {
  if (entry.kind === "bpmn") {
    const registry = entry.instance.get("elementRegistry");
    const canvas = entry.instance.get("canvas");
    const element = registry.get(id);
    if (!element) { return false; }
    const plane = canvas.findRoot(element);
    if (plane && plane !== canvas.getRootElement()) { canvas.setRootElement(plane); }
    canvas.scrollToElement(element, { top: 120, bottom: 120, left: 120, right: 360 });
    entry.instance.get("selection").select(element);
    return true;
  }
  if (entry.kind === "dmn") {
    const cell = entry.pane.querySelector(`[data-row-id="${CSS.escape(id)}"]`);
    if (cell) { cell.scrollIntoView({ block: "center" }); cell.focus(); return true; }
  }
  return false;
}

// ------------------------------------------------------------------ editors

async function openBpmn(name, pane, xml) {
  pane.innerHTML = "";
  const canvas = document.createElement("div");
  canvas.className = "modeler-canvas";
  const panel = document.createElement("div");
  panel.className = "modeler-properties";
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", T.properties);
  pane.append(canvas, panel);
  const modeler = new BpmnModeler({
    container: canvas,
    propertiesPanel: { parent: panel },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule, CamundaBehaviorsModule, i18n.module, choicesModule(data.choices)],
    moddleExtensions: { camunda: camundaModdle },
  });
  const result = await modeler.importXML(xml);
  const entry = { kind: "bpmn", instance: modeler, original: xml, dirty: false, pane,
    warnings: result.warnings || [] };
  modeler.on("commandStack.changed", () => { entry.dirty = true; refreshDirty(); });
  modeler.get("canvas").zoom("fit-viewport");
  markBpmnProblems(entry, name);
  fillFinder(entry);
  return entry;
}

// dmn-js gives each view only its own additionalModules (those under `common` are dropped), so each view gets them
function dmnViews(modules) {
  const out = {};
  ["drd", "decisionTable", "literalExpression", "boxedExpression"].forEach((v) => { out[v] = { additionalModules: modules }; });
  return out;
}

async function openDmn(name, pane, xml) {
  pane.innerHTML = "";
  const container = document.createElement("div");
  container.className = "modeler-dmn";
  pane.append(container);
  const dmn = new DmnModeler({
    container, ...dmnViews([i18n.module]),
  });
  const entry = { kind: "dmn", instance: dmn, original: xml, dirty: false, pane };
  const watch = () => {
    const viewer = dmn.getActiveViewer();
    if (viewer && !viewer.__watched) {
      viewer.__watched = true;
      viewer.get("eventBus").on("commandStack.changed", () => { entry.dirty = true; refreshDirty(); });
    }
    markDmnProblems(entry, name);
    labelTables(container);
  };
  dmn.on("views.changed", watch);
  await dmn.importXML(xml);
  const table = dmn.getViews().find((v) => v.type === "decisionTable");
  if (table) { await dmn.open(table); }
  watch();
  return entry;
}

function labelTables(container) {
  container.querySelectorAll(".tjs-table-container").forEach((box) => {
    box.setAttribute("tabindex", "0");
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", T.table);
  });
}

async function openForm(name, pane, text) {
  pane.innerHTML = "";
  const entry = { kind: "json", instance: null, original: text, dirty: false, pane };
  entry.instance = createFormEditor(pane, text, {
    zh: i18n.zh, label: name,
    onChange: () => { entry.dirty = entry.instance.state.doc.toString() !== entry.original; refreshDirty(); },
    check: async (source) => {
      const answer = await post(data.urls.formProblems, { text: source });
      return answer.ok ? answer.body.problems : [];
    },
  });
  return entry;
}

async function currentText(name) {
  const entry = editors[name];
  if (entry.kind === "json") { return entry.instance.state.doc.toString(); }
  return (await entry.instance.saveXML({ format: true })).xml;
}

// ------------------------------------------------------------------ files, finder, saving

function refreshDirty() {
  const changed = Object.keys(editors).filter((n) => editors[n].dirty);
  document.querySelectorAll("[data-file]").forEach((b) => {
    b.classList.toggle("dirty", changed.includes(b.dataset.file));
  });
  document.getElementById("modeler-dirty").textContent = changed.length ? T.unsaved.replace("%d", changed.length) : "";
}

function fillFinder(entry) {
  const finder = document.getElementById("modeler-find");
  finder.innerHTML = "";
  const first = document.createElement("option");
  first.value = "";
  first.textContent = T.find_choose;
  finder.append(first);
  const wanted = ["bpmn:UserTask", "bpmn:BusinessRuleTask", "bpmn:ScriptTask", "bpmn:BoundaryEvent",
    "bpmn:IntermediateCatchEvent", "bpmn:ExclusiveGateway", "bpmn:SubProcess", "bpmn:CallActivity"];
  entry.instance.get("elementRegistry")
    .filter((e) => wanted.includes(e.type) && !e.labelTarget)
    .sort((a, b) => (a.businessObject.name || a.id).localeCompare(b.businessObject.name || b.id, "zh"))
    .forEach((e) => {
      const o = document.createElement("option");
      o.value = e.id;
      o.textContent = (e.businessObject.name || "") + "（" + e.id + "）";
      finder.append(o);
    });
  finder.disabled = false;
}

async function open(name, elementId) {
  const area = document.getElementById("modeler-area");
  document.querySelectorAll("[data-file]").forEach((b) => {
    if (b.dataset.file === name) { b.setAttribute("aria-current", "true"); } else { b.removeAttribute("aria-current"); }
  });
  Object.values(editors).forEach((e) => { e.pane.hidden = true; });
  const finder = document.getElementById("modeler-find");
  finder.disabled = true;
  let entry = editors[name];
  if (!entry) {
    const pane = document.createElement("div");
    pane.className = "modeler-pane";
    pane.dataset.pane = name;
    area.append(pane);
    say(T.loading);
    try {
      const response = await fetch(fileUrl(name), { credentials: "same-origin" });
      if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
      const text = await response.text();
      const opener = name.endsWith(".bpmn") ? openBpmn : name.endsWith(".dmn") ? openDmn : openForm;
      entry = await opener(name, pane, text);
      editors[name] = entry;
      say("");
    } catch (err) {
      pane.textContent = T.cannot_open + " " + err.message;
      say(T.cannot_open + " " + name, "error");
      return;
    }
  }
  entry.pane.hidden = false;
  current = name;
  if (entry.kind === "bpmn") { fillFinder(entry); }
  if (elementId) { showElement(entry, elementId); }
  root.dataset.ready = name;
  const url = new URL(window.location.href);
  url.searchParams.set("file", name);
  if (elementId) { url.searchParams.set("element", elementId); } else { url.searchParams.delete("element"); }
  window.history.replaceState(null, "", url);
}

async function save() {
  const changed = {};
  for (const name of Object.keys(editors)) {
    if (!editors[name].dirty) { continue; }
    changed[name] = await currentText(name);
  }
  if (!Object.keys(changed).length) { say(T.nothing_to_save); return true; }
  say(T.saving);
  const answer = await post(data.urls.save, { revision, files: changed });
  if (!answer.ok) {
    const fields = answer.body.fields ? Object.values(answer.body.fields).join("；") : "";
    say((answer.body.message || T.save_failed) + (fields ? "：" + fields : ""), "error");
    return false;
  }
  revision = answer.body.revision;
  document.querySelectorAll("input[name=revision]").forEach((i) => { i.value = revision; });
  Object.keys(changed).forEach((name) => { editors[name].original = changed[name]; editors[name].dirty = false; });
  refreshDirty();
  document.getElementById("modeler-revision").textContent = revision;
  say(T.saved.replace("%d", revision), "success");
  return true;
}

// ------------------------------------------------------------------ wiring

document.querySelectorAll("[data-file]").forEach((b) => b.addEventListener("click", () => open(b.dataset.file)));
document.getElementById("modeler-find").addEventListener("change", (e) => {
  if (e.target.value && editors[current]) { showElement(editors[current], e.target.value); }
});
document.querySelectorAll("[data-problem-file]").forEach((b) => b.addEventListener("click", () => {
  open(b.dataset.problemFile, b.dataset.problemElement || null);
}));
document.getElementById("modeler-save").addEventListener("click", () => { save(); });
document.getElementById("modeler-check-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  if (await save()) {
    say(T.checking);
    form.querySelector("button").disabled = true;
    form.submit();
  }
});
window.addEventListener("beforeunload", (event) => {
  if (Object.values(editors).some((e) => e.dirty)) { event.preventDefault(); event.returnValue = ""; }
});

const params = new URLSearchParams(window.location.search);
const start = data.files.includes(params.get("file")) ? params.get("file") : data.files.find((n) => n.endsWith(".bpmn"));
open(start, params.get("element"));
