// Show / hide for password fields. Progressive enhancement: without it they are plain password
// fields. Each field gets a "Show" button named after the field ("Show password", "Show
// confirm password") and a polite announcement of what changed; every field is hidden again
// before its form is sent, so the browser's password manager sees a password field. Wrapping
// a field keeps its focus and caret (someone may be typing already). The words come
// translated on the tag.
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

  function fieldName(input) {
    var text = input.labels && input.labels.length ? input.labels[0].textContent.trim() : "";
    return text ? text.charAt(0).toLowerCase() + text.slice(1) : words.noun;
  }

  function label(button, visible, name) {
    button.textContent = visible ? words.hide : words.show;
    var noun = document.createElement("span");
    noun.className = "visually-hidden";
    noun.textContent = " " + name;
    button.appendChild(noun);
  }

  Array.prototype.forEach.call(fields, function (input) {
    var name = fieldName(input);
    var focused = document.activeElement === input;
    var start = input.selectionStart, end = input.selectionEnd;
    var wrapper = document.createElement("div");
    wrapper.className = "password-input";
    input.parentNode.insertBefore(wrapper, input);
    wrapper.appendChild(input);
    if (focused) {
      input.focus();
      try {
        input.setSelectionRange(start, end);
      } catch (e) {
        // a field that does not report its caret: the focus alone is kept
      }
    }

    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button--secondary password-input__toggle";
    if (input.id) {
      button.setAttribute("aria-controls", input.id);
    }
    label(button, false, name);
    wrapper.appendChild(button);

    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite");
    wrapper.appendChild(status);

    function set(visible) {
      input.type = visible ? "text" : "password";
      label(button, visible, name);
      status.textContent = visible ? words.shown : words.hidden;
    }
    button.addEventListener("click", function () {
      set(input.type === "password");
    });
    if (input.form) {
      input.form.addEventListener("submit", function () {
        if (input.type !== "password") {
          input.type = "password";
          label(button, false, name);
        }
      });
    }
  });
}());
