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
        var main = canvas.getRootElement();
        // a step inside a collapsed sub-process (the per-person parts) is drawn on its own plane: on the main
        // diagram it is shown by the collapsed sub-process that holds it
        function onMain(element) {
          for (var hops = 0; element && hops < 10; hops++) {
            var root = element;
            while (root.parent) { root = root.parent; }
            if (root === main) { return element; }
            element = registry.get(root.businessObject.id);
          }
          return null;
        }
        function mark(ids, marker) {
          ids.forEach(function (id) {
            var element = registry.get(id);
            if (!element) { return; }
            canvas.addMarker(id, marker);
            var shown = onMain(element);
            if (shown && shown !== element && shown.id) { canvas.addMarker(shown.id, marker); }
          });
        }
        mark(data.completed.filter(function (id) { return data.active.indexOf(id) < 0; }), "step-done");
        mark(data.active, "step-active");
        canvas.zoom("fit-viewport");
        if (canvas.zoom() < 0.6) {  // a wide procedure: show it readable, around the step that matters now
          canvas.zoom(0.8);
          var focus = data.active[0] || data.completed[data.completed.length - 1];
          var shown = focus && registry.get(focus) ? onMain(registry.get(focus)) : null;
          if (shown) { canvas.scrollToElement(shown); }
        }
        el.dataset.ready = "true";
      });
    })
    .catch(function (err) {
      el.textContent = "流程图无法显示：" + err;
      el.dataset.ready = "error";
    });
})();
