/* Result page: a print button; on the kiosk, back to the live page when the station moves on. */
(function () {
  "use strict";
  var me = document.getElementById("result-script");
  var print = document.getElementById("print");
  if (print) { print.addEventListener("click", function () { window.print(); }); }
  if (!me || me.dataset.kiosk !== "yes") { return; }
  var id = me.dataset.assessment;
  function check(s) {
    if (s.state !== "result" || s.assessment_id !== id) { window.location.href = "/"; }
  }
  setInterval(function () {
    fetch("/api/status", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); }).then(check).catch(function () {});
  }, 2000);
}());
