/* The kiosk's member keypad (web/templates/identify.html): the on-screen keys type into the
   member number field; OK sends the form. No libraries. */
(function () {
  "use strict";
  var field = document.getElementById("member-number");
  if (!field) { return; }
  Array.prototype.forEach.call(document.querySelectorAll("button.key[data-key]"), function (key) {
    key.addEventListener("click", function () {
      var k = key.dataset.key;
      if (k === "back") {
        field.value = field.value.slice(0, -1);
      } else if (field.value.length < 64) {
        field.value += k;
      }
    });
  });
}());
