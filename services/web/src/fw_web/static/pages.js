/* fernwartung web: small helpers of the working pages; every page works without them.
   - [data-print]: print the page;
   - form[data-confirm]: ask before submitting (e.g. ending a session). */
(function () {
  "use strict";
  function init() {
    document.querySelectorAll("[data-print]").forEach(function (el) {
      el.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
