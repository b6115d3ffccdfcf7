// Draw the case's BPMN diagram (its own deployment version): the whole procedure fitted to the box, the done path
// (completed steps and the flows between them) and the current steps marked, with zoom and fit buttons.
(function () {
  var el = document.getElementById("diagram");
  if (!el || !window.BpmnJS) { return; }
  var tools = document.querySelectorAll("[data-zoom]");
  fetch(el.dataset.src, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var viewer = new window.BpmnJS({ container: el, additionalModules: window.BpmnI18n ? [window.BpmnI18n.module] : [] });
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
        var reached = {};  // steps done or current, and the collapsed sub-processes that show them
        function mark(ids, marker) {
          ids.forEach(function (id) {
            var element = registry.get(id);
            if (!element) { return; }
            canvas.addMarker(id, marker);
            reached[id] = true;
            var shown = onMain(element);
            if (shown && shown !== element && shown.id) {
              canvas.addMarker(shown.id, marker);
              reached[shown.id] = true;
            }
          });
        }
        var done = data.completed.filter(function (id) { return data.active.indexOf(id) < 0; });
        mark(done, "step-done");
        mark(data.active, "step-active");
        // the done path: a sequence flow taken from a completed step to a completed or current one
        registry.filter(function (e) { return e.type === "bpmn:SequenceFlow"; }).forEach(function (flow) {
          var from = flow.source && flow.source.id, to = flow.target && flow.target.id;
          if (from && to && done.indexOf(from) >= 0 && reached[to]) { canvas.addMarker(flow.id, "flow-done"); }
        });

        var fitted = 1;
        function fit() {
          canvas.zoom("fit-viewport", "auto");
          fitted = canvas.zoom();
          el.dataset.zoom = String(fitted);
        }
        function zoomBy(factor) {
          // never smaller than half the fitted size: a wide procedure fits below 0.2, and zooming out must still work
          var scale = Math.min(4, Math.max(Math.min(0.2, fitted / 2), canvas.zoom() * factor));
          canvas.zoom(scale);
          el.dataset.zoom = String(canvas.zoom());
        }
        // a wide procedure in a tall box leaves most of the box empty: the box takes the diagram's proportions
        var inner = canvas.viewbox().inner;
        if (inner.width > 0) {
          var wanted = Math.round(el.clientWidth * inner.height / inner.width) + 60;
          el.style.height = Math.max(260, Math.min(560, wanted)) + "px";
          canvas.resized();
        }
        fit();
        // the canvas itself takes the keyboard (arrow keys move it once it has focus): give it a name
        var svg = el.querySelector("svg");
        if (svg) {
          svg.setAttribute("role", "img");
          svg.setAttribute("aria-label", el.dataset.label || "流程图");
        }
        Array.prototype.forEach.call(tools, function (button) {
          button.disabled = false;
          button.addEventListener("click", function () {
            var how = button.dataset.zoom;
            if (how === "in") { zoomBy(1.25); } else if (how === "out") { zoomBy(0.8); } else { fit(); }
          });
        });
        el.dataset.ready = "true";
      });
    })
    .catch(function (err) {
      el.textContent = "流程图无法显示：" + err;
      el.dataset.ready = "error";
    });
})();
