// Password strength meter (zxcvbn, computed by the server). Progressive enhancement: every
// form works without it, and the policy, not the meter, decides what is accepted.
(function () {
  "use strict";
  var input = document.getElementById("password");
  var meter = document.getElementById("password-meter");
  if (!input || !meter || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var token = input.form && input.form.querySelector("input[name=csrf_token]");
  var timer = null;

  function show(result) {
    if (!result.label) {
      meter.hidden = true;
      return;
    }
    var text = (meter.getAttribute("data-label") || "Password strength:") + " " + result.label + ".";
    if (result.warning) {
      text += " " + result.warning;
    }
    if (result.suggestions.length) {
      text += " " + result.suggestions.join(" ");
    }
    meter.className = "meter meter--" + result.score;
    meter.textContent = text;
    meter.hidden = false;
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var body = new URLSearchParams();
      body.set("password", input.value);
      window.fetch(meter.getAttribute("data-endpoint"), {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.value : "" }
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (result) {
        if (result) {
          show(result);
        }
      }).catch(function () {
        meter.hidden = true;
      });
    }, 300);
  });
}());
