// Render every BPMN and DMN file of a deployed version with the bpmn.io viewers.
(function () {
  var BpmnViewer = window.BpmnJS;
  var i18n = window.BpmnI18n ? [window.BpmnI18n.module] : [];  // Chinese texts on Chinese pages (bpmn-i18n.js)
  document.querySelectorAll(".model-view").forEach(function (el) {
    fetch(el.dataset.src, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (xml) {
        if (el.dataset.kind === "bpmn") {
          var viewer = new BpmnViewer({ container: el, additionalModules: i18n });
          return viewer.importXML(xml).then(function () { viewer.get("canvas").zoom("fit-viewport"); });
        }
        var dmn = new window.DmnJS({ container: el, drd: { additionalModules: i18n }, decisionTable: { additionalModules: i18n },
          literalExpression: { additionalModules: i18n } });
        return dmn.importXML(xml).then(function () {
          var table = dmn.getViews().find(function (v) { return v.type === "decisionTable"; });
          if (table) { return dmn.open(table); }
        });
      })
      .then(function () {
        // the viewer's own scrolling table gets keyboard access and a name (WCAG 2.1.1)
        el.querySelectorAll(".tjs-table-container").forEach(function (box) {
          box.setAttribute("tabindex", "0");
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", "决策表");
        });
        el.dataset.ready = "true";
      })
      .catch(function (err) { el.textContent = "无法显示：" + err; el.dataset.ready = "error"; });
  });
})();
