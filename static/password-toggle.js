// Show / hide for password fields. Progressive enhancement: without it they are plain password
// fields. Each field gets a "Show" button (accessible name "Show password") and a polite
// announcement of what changed; every field is hidden again before its form is sent, so the
// browser's password manager sees a password field. The words come translated on the tag.
(function () {
  "use strict";
  var tag = document.currentScript;
  var fields = document.querySelectorAll("input[type=password]");
  if (!tag || !fields.length) {
    return;
  }
  var words = {
    show: tag.getAttribute("data-show") || "Show",
    hide: tag.getAttribute("data-hide") || "Hide",
    noun: tag.getAttribute("data-noun") || "password",
    shown: tag.getAttribute("data-shown") || "Your password is visible.",
    hidden: tag.getAttribute("data-hidden") || "Your password is hidden."
  };

  function label(button, visible) {
    button.textContent = visible ? words.hide : words.show;
    var noun = document.createElement("span");
    noun.className = "visually-hidden";
    noun.textContent = " " + words.noun;
    button.appendChild(noun);
  }

  Array.prototype.forEach.call(fields, function (input) {
    var wrapper = document.createElement("div");
    wrapper.className = "password-input";
    input.parentNode.insertBefore(wrapper, input);
    wrapper.appendChild(input);

    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button--secondary password-input__toggle";
    if (input.id) {
      button.setAttribute("aria-controls", input.id);
    }
    label(button, false);
    wrapper.appendChild(button);

    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite");
    wrapper.appendChild(status);

    function set(visible) {
      input.type = visible ? "text" : "password";
      label(button, visible);
      status.textContent = visible ? words.shown : words.hidden;
    }
    button.addEventListener("click", function () {
      set(input.type === "password");
    });
    if (input.form) {
      input.form.addEventListener("submit", function () {
        if (input.type !== "password") {
          input.type = "password";
          label(button, false);
        }
      });
    }
  });
}());
