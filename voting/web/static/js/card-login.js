/*
 * The card login page (/card): read the card from the QR link's fragment or from the typed
 * card number and backup code, ask for the PIN, sign the server's one-time challenge with the
 * card key and send the signature and the PIN. The fragment is removed from the address bar
 * at once and never sent anywhere; the seed and the key live only in this page's memory.
 *
 * Every message shown comes from a data-msg-* attribute of the form, translated by the server.
 */
(function () {
  "use strict";

  var form = document.getElementById("card-login");
  if (!form || !window.OwnerCard) {
    return;
  }
  var OwnerCard = window.OwnerCard;
  var messages = form.dataset;
  var csrfTag = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = csrfTag ? csrfTag.getAttribute("content") : "";

  var recognised = document.getElementById("card-recognised");
  var shownNumber = document.getElementById("card-number-shown");
  var otherCard = document.getElementById("card-other");
  var typed = document.getElementById("card-typed");
  var numberInput = document.getElementById("card-number");
  var codeInput = document.getElementById("backup-code");
  var pinInput = document.getElementById("card-pin");
  var submit = document.getElementById("card-submit");
  var output = document.getElementById("card-message");

  // The card read from the QR link: {number, key}; null while the typed fields are used.
  var linked = null;

  function say(text, isError) {
    output.textContent = text;
    output.classList.toggle("notice-error", Boolean(isError));
    output.hidden = !text;
  }

  function setBusy(busy) {
    submit.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function useTypedCard() {
    linked = null;
    recognised.hidden = true;
    typed.hidden = false;
    numberInput.focus();
  }

  function supported() {
    return Boolean(window.crypto && crypto.subtle && window.TextEncoder && window.fetch);
  }

  async function readLink(fragment) {
    var parsed = OwnerCard.parseFragment(fragment);
    if (!parsed) {
      say(messages.msgBadLink, true);
      return;
    }
    var key = await OwnerCard.importCardKey(parsed.seed);
    parsed.seed.fill(0);
    linked = { number: parsed.number, key: key };
    shownNumber.textContent = parsed.number;
    recognised.hidden = false;
    typed.hidden = true;
    pinInput.focus();
  }

  // The card number and key to use, or null after saying what is wrong with the input.
  async function chosenCard() {
    if (linked) {
      return linked;
    }
    var number = OwnerCard.normaliseCardNumber(numberInput.value);
    if (!number) {
      say(messages.msgBadNumber, true);
      numberInput.focus();
      return null;
    }
    var code = OwnerCard.normaliseBackupCode(codeInput.value);
    if (!code) {
      say(messages.msgBadCode, true);
      codeInput.focus();
      return null;
    }
    var seed = await OwnerCard.seedFromBackupCode(number, code);
    var key = await OwnerCard.importCardKey(seed);
    seed.fill(0);
    return { number: number, key: key };
  }

  // An error whose message is meant for the owner (the server's or one of ours).
  function shown(text) {
    var error = new Error(text || messages.msgNetwork);
    error.shown = true;
    return error;
  }

  async function postJSON(url, payload) {
    var response;
    try {
      response = await send(url, payload);
    } catch (error) {
      throw shown(messages.msgNetwork);
    }
    var body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok || !body) {
      throw shown(body && body.error);
    }
    return body;
  }

  function send(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken,
      },
      body: JSON.stringify(payload),
    });
  }

  // The statement is built here from checked fields, never taken whole from the server, so
  // that the card key only ever signs a login for this card.
  function loginStatement(number, challenge) {
    var nonceOk = /^[0-9a-f]{32}$/.test(challenge.nonce || "");
    var timeOk = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/.test(
      challenge.time || ""
    );
    if (!nonceOk || !timeOk || challenge.platform !== messages.platform) {
      throw shown(messages.msgNetwork);
    }
    return {
      type: "login",
      platform: messages.platform,
      card_number: number,
      nonce: challenge.nonce,
      time: challenge.time,
    };
  }

  async function logIn() {
    var pin = pinInput.value.trim();
    var card = await chosenCard();
    if (!card) {
      return;
    }
    if (!/^[0-9]{6}$/.test(pin)) {
      say(messages.msgBadPin, true);
      pinInput.focus();
      return;
    }
    say(messages.msgWorking, false);
    var challenge = await postJSON(messages.challengeUrl, { card: card.number });
    var signed = await OwnerCard.signStatement(card.key, loginStatement(card.number, challenge));
    var result = await postJSON(messages.loginUrl, {
      statement: OwnerCard.base64url(signed.bytes),
      signature: OwnerCard.base64url(signed.signature),
      pin: pin,
    });
    var target = typeof result.redirect === "string" ? result.redirect : "/";
    if (target.charAt(0) !== "/" || target.charAt(1) === "/" || target.charAt(1) === "\\") {
      target = "/";
    }
    say(messages.msgSuccess, false);
    window.location.assign(target);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    setBusy(true);
    logIn()
      .catch(function (error) {
        pinInput.value = "";
        // Anything not explained by the server is the browser's Web Crypto failing.
        say(error && error.shown ? error.message : messages.msgUnsupported, true);
      })
      .finally(function () {
        setBusy(false);
      });
  });
  otherCard.addEventListener("click", function () {
    say("", false);
    useTypedCard();
  });

  if (!supported()) {
    say(messages.msgUnsupported, true);
    return;
  }
  form.hidden = false;
  var fragment = window.location.hash.slice(1);
  if (fragment) {
    // Out of the address bar and the history at once; it is never sent anywhere.
    history.replaceState(null, "", window.location.pathname + window.location.search);
    readLink(fragment).catch(function () {
      say(messages.msgUnsupported, true);
    });
  }
})();
