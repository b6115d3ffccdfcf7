// Draw the case's BPMN diagram (its own deployment version) and mark done and active steps.
(function () {
  var el = document.getElementById("diagram");
  if (!el || !window.BpmnJS) { return; }
  fetch(el.dataset.src, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var viewer = new window.BpmnJS({ container: el });
      return viewer.importXML(data.xml).then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        data.completed.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "step-done"); } });
        data.active.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "step-active"); } });
        canvas.zoom("fit-viewport");
        if (canvas.zoom() < 0.6) {  // a wide procedure: show it readable, around the step that matters now
          canvas.zoom(0.8);
          var focus = data.active[0] || data.completed[data.completed.length - 1];
          if (focus && registry.get(focus)) { canvas.scrollToElement(registry.get(focus)); }
        }
        el.dataset.ready = "true";
      });
    })
    .catch(function (err) {
      el.textContent = "流程图无法显示：" + err;
      el.dataset.ready = "error";
    });
})();
