// Person lookup for fields marked x-lookup "officers": the field is an <input list="lookup-officers">; when a
// person is chosen, show their name and unit next to it and fill the row's unit if it is still empty.
(function () {
  function option(input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list || !input.value) { return null; }
    for (var i = 0; i < list.options.length; i++) {
      if (list.options[i].value === input.value.trim()) { return list.options[i]; }
    }
    return null;
  }
  function update(input, typing) {
    var found = option(input);
    var show = document.getElementById(input.getAttribute("data-show"));
    if (show) {  // while typing, no verdict on a name not yet complete
      show.textContent = found ? found.textContent
        : (input.value.trim() && !typing ? show.getAttribute("data-unknown") || "" : "");
    }
    var target = document.getElementById(input.getAttribute("data-unit-target") || "");
    if (found && target && !target.value.trim()) {
      target.value = found.getAttribute("data-unit") || "";
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var inputs = document.querySelectorAll("input[data-lookup]");
    for (var i = 0; i < inputs.length; i++) {
      inputs[i].addEventListener("change", function (e) { update(e.target); });
      inputs[i].addEventListener("input", function (e) { update(e.target, true); });
    }
  });
})();
