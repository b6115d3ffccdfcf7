// Evidence uploads on a task form: check the size of the chosen files before the form is sent, so that a file
// over the limit never costs what was typed (the server would refuse the whole request). The message is the one
// the server gives, with the field's label.
(function () {
  function problem(input) {
    var maxFile = Number(input.getAttribute("data-max-file"));
    var maxTotal = Number(input.getAttribute("data-max-total"));
    var large = [], total = 0;
    for (var i = 0; i < input.files.length; i++) {
      total += input.files[i].size;
      if (input.files[i].size > maxFile) { large.push("\u201c" + input.files[i].name + "\u201d"); }
    }
    if (large.length) { return input.getAttribute("data-too-large").replace("{names}", large.join("\u3001")); }
    if (total > maxTotal) { return input.getAttribute("data-total-too-large"); }
    return "";
  }
  function show(input, message) {
    var error = document.getElementById("err-evidence_files");
    error.textContent = message;
    error.hidden = !message;
    var described = (input.getAttribute("aria-describedby") || "").replace(/\s*err-evidence_files/, "");
    input.setAttribute("aria-describedby", message ? described + " err-evidence_files" : described);
    if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("f-evidence_files");
    if (!input || !input.form) { return; }
    input.addEventListener("change", function () { show(input, problem(input)); });
    input.form.addEventListener("submit", function (event) {
      var message = problem(input);
      show(input, message);
      if (message) {
        event.preventDefault();
        input.focus();
      }
    });
  });
})();
