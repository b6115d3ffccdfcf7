// "Back" on an error page: the browser's own Back, which keeps what was typed in the form before.
document.addEventListener("DOMContentLoaded", function () {
  var link = document.getElementById("go-back");
  if (link && window.history.length > 1) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      window.history.back();
    });
  }
});
