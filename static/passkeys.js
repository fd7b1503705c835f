// Passkeys: a form marked data-passkey="register", "sign-in" or "second-step" is shown only
// where the browser has WebAuthn. On submit, the options are asked for (data-options, a POST
// carrying the form's CSRF token in X-CSRFToken), handed to the browser, and its answer is
// put in the form's "credential" field, which is then sent as an ordinary form. Without this
// script the forms stay hidden and the password works as before.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function toBytes(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function fromBytes(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBytes(c.id) });
    });
  }

  function creationOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    o.excludeCredentials = withIds(o.excludeCredentials);
    return o;
  }

  function requestOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.allowCredentials = withIds(o.allowCredentials);
    return o;
  }

  // The browser's answer as WebAuthn's JSON encoding (what the server's library reads).
  function answer(credential) {
    const r = credential.response;
    const out = {
      id: credential.id,
      rawId: fromBytes(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: fromBytes(r.clientDataJSON) },
    };
    if (credential.authenticatorAttachment) {
      out.authenticatorAttachment = credential.authenticatorAttachment;
    }
    if (r.attestationObject) {
      out.response.attestationObject = fromBytes(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = fromBytes(r.authenticatorData);
      out.response.signature = fromBytes(r.signature);
      if (r.userHandle) out.response.userHandle = fromBytes(r.userHandle);
    }
    return JSON.stringify(out);
  }

  function Refusal(message) {
    this.message = message;
  }

  async function optionsFor(form) {
    const body = new FormData(form);
    body.delete("credential");
    const response = await fetch(form.dataset.options, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": form.elements.csrf_token.value, Accept: "application/json" },
    });
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = {};
    }
    if (!response.ok) throw new Refusal(data.error || form.dataset.cancelled);
    return data;
  }

  function say(form, message) {
    const box = form.querySelector("[data-passkey-problem]");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  let conditional = null; // the address field's passkey autofill, waiting

  async function ceremony(form, options) {
    if (form.dataset.passkey === "register") {
      return navigator.credentials.create({ publicKey: creationOptions(options) });
    }
    if (conditional) conditional.abort();
    return navigator.credentials.get({ publicKey: requestOptions(options) });
  }

  function send(form, credential) {
    form.elements.credential.value = answer(credential);
    form.submit();
  }

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    form.hidden = false;
    const section = form.closest("[data-passkey-section]");
    if (section) section.hidden = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      say(form, "");
      try {
        const options = await optionsFor(form);
        const credential = await ceremony(form, options);
        if (credential) send(form, credential);
      } catch (error) {
        say(form, error instanceof Refusal ? error.message : form.dataset.cancelled);
      }
    });
  }
  for (const note of document.querySelectorAll("[data-passkey-unsupported]")) note.hidden = true;

  // Passkey autofill: the address field offers the passkeys this browser holds for us.
  const signIn = document.querySelector('form[data-passkey="sign-in"]');
  const address = document.querySelector('input[autocomplete~="webauthn"]');
  if (signIn && address && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(async function (available) {
      if (!available) return;
      try {
        const options = await optionsFor(signIn);
        conditional = new AbortController();
        const credential = await navigator.credentials.get({
          publicKey: requestOptions(options),
          mediation: "conditional",
          signal: conditional.signal,
        });
        if (credential) send(signIn, credential);
      } catch (error) {
        // Aborted for the button, or nothing chosen: the page carries on as it is.
      }
    });
  }
})();
