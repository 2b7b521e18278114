/*
 * The proxy confirmation page (/vote/<meeting>/proxy, after the form): derive the card key
 * from the typed backup code, ask for a challenge, build the proxy statement of
 * docs/PROTOCOL.md section 6.6 from this page's own data-* fields (the challenge supplies
 * only the nonce, time, roll and credential, each checked), sign its canonical bytes with
 * the card key and post it to /api/v1/proxies. The seed and the key stay in this page's
 * memory; nothing but the statement and the signature is sent.
 *
 *   ProxyStatement.canonical(value)   RFC 8785 for nested objects, arrays, strings, safe
 *                                     integers, booleans and null (exposed for tests)
 */
(function (global) {
  "use strict";

  var HEX64 = /^[0-9a-f]{64}$/;
  var NONCE = /^[0-9a-f]{32}$/;
  var TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/;

  function scalar(value) {
    if (typeof value === "string") {
      if (typeof value.isWellFormed === "function" && !value.isWellFormed()) {
        throw new TypeError("lone surrogate in a string");
      }
      // JSON.stringify escapes strings exactly as RFC 8785 section 3.2.2.2 requires.
      return JSON.stringify(value);
    }
    if (typeof value === "number" && Number.isSafeInteger(value)) {
      return String(value);
    }
    if (value === true || value === false || value === null) {
      return String(value);
    }
    throw new TypeError("only strings, safe integers, booleans and null are supported");
  }

  // RFC 8785: members sorted by UTF-16 code units (the default sort), no whitespace.
  function canonical(value) {
    if (Array.isArray(value)) {
      return "[" + value.map(canonical).join(",") + "]";
    }
    if (value !== null && typeof value === "object") {
      var keys = Object.keys(value).sort();
      return (
        "{" +
        keys
          .map(function (key) {
            return scalar(key) + ":" + canonical(value[key]);
          })
          .join(",") +
        "}"
      );
    }
    return scalar(value);
  }

  global.ProxyStatement = Object.freeze({ canonical: canonical });

  var form = document.getElementById("proxy-sign");
  if (!form || !global.OwnerCard) {
    return;
  }
  var OwnerCard = global.OwnerCard;
  var data = form.dataset;
  var codeInput = document.getElementById("proxy-backup-code");
  var submit = document.getElementById("proxy-submit");
  var output = document.getElementById("proxy-message");

  function say(text, isError) {
    output.textContent = text;
    output.classList.toggle("notice-error", Boolean(isError));
    output.hidden = !text;
  }

  function shown(text) {
    var error = new Error(text || data.msgNetwork);
    error.shown = true;
    return error;
  }

  async function postJSON(url, payload) {
    var response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
      });
    } catch (error) {
      throw shown(data.msgNetwork);
    }
    var body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok || !body) {
      throw shown(body && body.message);
    }
    return body;
  }

  // Only the members this page cannot know come from the server, and each is checked.
  function proxyStatement(challenge) {
    var matches =
      challenge.platform === data.platform &&
      challenge.area === data.area &&
      challenge.meeting === Number(data.meeting) &&
      challenge.owner === data.owner &&
      HEX64.test(challenge.roll || "") &&
      HEX64.test(challenge.credential || "") &&
      NONCE.test(challenge.nonce || "") &&
      TIME.test(challenge.time || "");
    if (!matches) {
      throw shown(data.msgMismatch);
    }
    return {
      type: "proxy",
      platform: data.platform,
      area: data.area,
      meeting: Number(data.meeting),
      roll: challenge.roll,
      owner: data.owner,
      credential: challenge.credential,
      proxy: data.proxy,
      instructions: JSON.parse(data.instructions),
      nonce: challenge.nonce,
      time: challenge.time,
    };
  }

  async function authorise() {
    var code = OwnerCard.normaliseBackupCode(codeInput.value);
    if (!code) {
      say(data.msgBadCode, true);
      codeInput.focus();
      return;
    }
    say(data.msgWorking, false);
    var seed = await OwnerCard.seedFromBackupCode(data.cardNumber, code);
    var key = await OwnerCard.importCardKey(seed);
    seed.fill(0);
    var challenge = await postJSON(data.challengeUrl, {});
    var bytes = new TextEncoder().encode(canonical(proxyStatement(challenge)));
    var signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, bytes));
    await postJSON(data.submitUrl, {
      statement: OwnerCard.base64url(bytes),
      signature: OwnerCard.base64url(signature),
    });
    codeInput.value = "";
    say(data.msgSuccess, false);
    global.location.assign(data.doneUrl);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    authorise()
      .catch(function (error) {
        // Anything not explained by the server is the browser's Web Crypto failing.
        say(error && error.shown ? error.message : data.msgUnsupported, true);
      })
      .finally(function () {
        submit.disabled = false;
        form.setAttribute("aria-busy", "false");
      });
  });

  if (!(global.crypto && crypto.subtle && global.TextEncoder && global.fetch)) {
    say(data.msgUnsupported, true);
    return;
  }
  form.hidden = false;
})(window);
