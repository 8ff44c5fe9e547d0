// The account pages: a key's Show/Hide toggles in place (without JavaScript it reloads the page with ?show=).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-reveal]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-reveal"));
    if (!input) return;
    event.preventDefault();
    var shown = input.type === "password";
    input.type = shown ? "text" : "password";
    button.textContent = shown ? "Hide" : "Show";
    button.setAttribute("aria-pressed", shown ? "true" : "false");
    var label = document.querySelector('label[for="' + input.id + '"]');
    if (label) button.setAttribute("aria-label", (shown ? "Hide " : "Show ") + label.textContent.toLowerCase());
  });
})();
