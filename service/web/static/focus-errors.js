// Move keyboard and screen-reader focus to the list of errors after a rejected submission.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
});
