/* Result page: a print button; on the kiosk, back to the live page when the station moves on. */
(function () {
  "use strict";
  var me = document.getElementById("result-script");
  var print = document.getElementById("print");
  if (print) { print.addEventListener("click", function () { window.print(); }); }
  if (!me || me.dataset.kiosk !== "yes") { return; }
  /* on the station's own screen a long press opens no menu (no way out of the page by touch) */
  document.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  var id = me.dataset.assessment;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var kinds = ["heels_raised", "hands_on_hips"];
  function check(s) {
    if (s.state !== "result" || s.assessment_id !== id) { window.location.href = "/"; return; }
    kinds.forEach(function (k) {  /* the station offers re-tests after a standard set */
      var b = document.getElementById("retest-" + k);
      if (b) { b.hidden = (s.retests || []).indexOf(k) < 0; }
    });
  }
  ["retest-heels_raised", "retest-hands_on_hips", "report-pain"].forEach(function (buttonId) {
    var b = document.getElementById(buttonId);
    if (!b) { return; }
    b.addEventListener("click", function () {
      b.disabled = true;
      fetch(b.dataset.action, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
        .then(function () { window.location.href = "/"; })
        .catch(function () { b.disabled = false; });
    });
  });
  setInterval(function () {
    fetch("/api/kiosk/status", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); }).then(check).catch(function () {});
  }, 2000);
}());
