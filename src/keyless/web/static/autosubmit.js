// Submits the magic-link confirmation form once the page has loaded in a real browser. Mail
// scanners that only fetch the page never run it, so they never use the link.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form) {
    var button = form.querySelector("button");
    if (button) { button.disabled = true; button.textContent = "Signing you in…"; }
    form.submit();
  }
});
