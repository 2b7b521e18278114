/*
 * The owner's ballot page (/vote/<meeting>): choose, confirm in words, unlock the card, then
 * for each motion ask nothing but a nonce of the server, build the ballot statement here
 * from the fields this page shows (docs/PROTOCOL.md 6.1), encode it canonically (RFC 8785),
 * sign it with the card key (WebCrypto Ed25519), post it and show the receipt.
 *
 * The server's challenge is checked against the page before anything is signed: platform,
 * area, meeting, voter, credential and roll must be the page's, and there must be no proxy
 * member. A statement is never taken whole from the server. The card key exists only in
 * this page's memory: the owner types the backup code (or scans the card's QR code where
 * the browser can), as on the login page; the seed is wiped as soon as the key is imported.
 *
 * Every message shown comes from a data-msg-* attribute of the form, translated by the
 * server, or from the API's own "message".
 *
 *   VoteBallot.canonicalJSON(value)            RFC 8785 for strings, safe integers, booleans,
 *                                              null, arrays and objects (keys sorted by UTF-16
 *                                              code units)
 *   VoteBallot.electionChoice(labels)          distinct labels in code point order (as Python
 *                                              sorts them), the form the server requires
 *   VoteBallot.ballotStatement(page, challenge, motionId, choice)   the statement object
 *   VoteBallot.sha256Hex(bytes)                Promise<hex>
 */
(function (global) {
  "use strict";

  var MAX_DEPTH = 32;
  var HEX64 = /^[0-9a-f]{64}$/;
  var NONCE = /^[0-9a-f]{32}$/;
  var TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/;

  function canonicalJSON(value, depth) {
    depth = depth || 0;
    if (depth > MAX_DEPTH) {
      throw new TypeError("nested too deeply");
    }
    if (typeof value === "string") {
      if (typeof value.isWellFormed === "function" && !value.isWellFormed()) {
        throw new TypeError("lone surrogate in a string");
      }
      // JSON.stringify escapes exactly as RFC 8785 section 3.2.2.2 requires.
      return JSON.stringify(value);
    }
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) {
        throw new TypeError("only safe integers are allowed");
      }
      return String(value);
    }
    if (value === true || value === false || value === null) {
      return String(value);
    }
    if (Array.isArray(value)) {
      return (
        "[" +
        value
          .map(function (item) {
            return canonicalJSON(item, depth + 1);
          })
          .join(",") +
        "]"
      );
    }
    if (typeof value === "object") {
      // The default sort compares UTF-16 code units, as RFC 8785 section 3.2.3 requires.
      var keys = Object.keys(value).sort();
      return (
        "{" +
        keys
          .map(function (key) {
            return canonicalJSON(key, depth + 1) + ":" + canonicalJSON(value[key], depth + 1);
          })
          .join(",") +
        "}"
      );
    }
    throw new TypeError("unsupported value in a statement");
  }

  // Compare by Unicode code points (Python's string order), not UTF-16 code units.
  function compareCodePoints(a, b) {
    var left = Array.from(a);
    var right = Array.from(b);
    for (var i = 0; i < Math.min(left.length, right.length); i++) {
      var difference = left[i].codePointAt(0) - right[i].codePointAt(0);
      if (difference !== 0) {
        return difference;
      }
    }
    return left.length - right.length;
  }

  function electionChoice(labels) {
    var distinct = [];
    labels.forEach(function (label) {
      if (distinct.indexOf(label) < 0) {
        distinct.push(label);
      }
    });
    return distinct.sort(compareCodePoints);
  }

  // The statement for one motion, from the page's fields; the challenge only supplies the
  // nonce and its time, after checking that everything else it says is the page's. `page`
  // names the voter: the card's holder (proxy null), or an owner they represent (proxy = the
  // hash of that owner's signed authorisation, which the statement then carries).
  function ballotStatement(page, challenge, motionId, choice) {
    var nonce = challenge && challenge.nonces ? challenge.nonces[String(motionId)] : null;
    var proxy = page.proxy || null;
    if (
      !challenge ||
      challenge.platform !== page.platform ||
      challenge.area !== page.area ||
      challenge.meeting !== page.meeting ||
      challenge.voter !== page.voter ||
      challenge.credential !== page.credential ||
      challenge.roll !== page.roll ||
      (challenge.proxy === undefined ? null : challenge.proxy) !== proxy ||
      (proxy !== null && !HEX64.test(proxy)) ||
      !TIME.test(challenge.time || "")
    ) {
      var mismatch = new Error("challenge does not match the page");
      mismatch.reason = "mismatch";
      throw mismatch;
    }
    if (typeof nonce !== "string" || !NONCE.test(nonce)) {
      var missing = new Error("no nonce for this motion");
      missing.reason = "no-nonce";
      throw missing;
    }
    var statement = {
      type: "ballot",
      platform: page.platform,
      area: page.area,
      meeting: page.meeting,
      motion: motionId,
      roll: page.roll,
      voter: page.voter,
      credential: page.credential,
      choice: choice,
      nonce: nonce,
      time: challenge.time,
    };
    if (proxy !== null) {
      statement.proxy = proxy;
    }
    return statement;
  }

  function hex(bytes) {
    return Array.from(new Uint8Array(bytes), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function fromHex(text) {
    var bytes = new Uint8Array(text.length / 2);
    for (var i = 0; i < bytes.length; i++) {
      bytes[i] = parseInt(text.substr(i * 2, 2), 16);
    }
    return bytes;
  }

  async function sha256Hex(bytes) {
    return hex(await crypto.subtle.digest("SHA-256", bytes));
  }

  global.VoteBallot = Object.freeze({
    canonicalJSON: function (value) {
      return canonicalJSON(value, 0);
    },
    electionChoice: electionChoice,
    ballotStatement: ballotStatement,
    sha256Hex: sha256Hex,
  });

  // --- the page ---------------------------------------------------------------------------

  var form = document.getElementById("vote-form");
  if (!form || !form.dataset.challengeUrl || !global.OwnerCard) {
    return;
  }
  var OwnerCard = global.OwnerCard;
  var data = form.dataset;
  var page = {
    platform: data.platform,
    area: data.area,
    meeting: Number(data.meeting),
    voter: data.voter,
    credential: data.credential,
    roll: data.roll,
    proxy: null,
  };
  var nextButton = document.getElementById("vote-next");
  var formMessage = document.getElementById("form-message");
  var confirmSection = document.getElementById("vote-confirm");
  var confirmHeading = document.getElementById("confirm-heading");
  var confirmList = document.getElementById("confirm-list");
  var unlock = document.getElementById("card-unlock");
  var codeInput = document.getElementById("vote-backup-code");
  var cardReady = document.getElementById("card-ready");
  var voteMessage = document.getElementById("vote-message");
  var submitButton = document.getElementById("vote-submit");
  var backButton = document.getElementById("vote-back");
  var receiptsSection = document.getElementById("vote-receipts");
  var receiptsHeading = document.getElementById("receipts-heading");
  var receiptsMessage = document.getElementById("receipts-message");
  var receiptList = document.getElementById("receipt-list");
  var scanArea = document.getElementById("scan-area");
  var scanStart = document.getElementById("scan-start");
  var scanStop = document.getElementById("scan-stop");
  var video = document.getElementById("scan-video");

  var cardKey = null; // the card's signing key, once unlocked; never leaves this page
  var chosen = []; // [{motion, voter, proxy, group, title, choice, words}]
  var busy = false;

  function say(element, text, isError) {
    element.textContent = text || "";
    element.classList.toggle("notice-error", Boolean(isError));
    element.hidden = !text;
  }

  function shown(text) {
    var error = new Error(text || data.msgServer);
    error.shown = true;
    return error;
  }

  function supported() {
    return Boolean(
      global.crypto && crypto.subtle && global.TextEncoder && global.fetch && Array.from
    );
  }

  function motionFieldsets() {
    return Array.prototype.slice.call(form.querySelectorAll("fieldset.motion"));
  }

  function choicesOf(fieldset) {
    var box = fieldset.querySelector(".choices");
    return box && !box.hidden ? box : null;
  }

  // The fieldset's choice: {choice, words}, null for no vote, or throws a shown error.
  function readChoice(fieldset) {
    var box = choicesOf(fieldset);
    if (!box) {
      return null;
    }
    var checked = Array.prototype.slice.call(box.querySelectorAll("input:checked"));
    if (!checked.length) {
      return null;
    }
    if (fieldset.dataset.kind !== "election") {
      return { choice: checked[0].value, words: checked[0].dataset.label };
    }
    if (checked.some(isAbstain)) {
      return { choice: "abstain", words: data.msgAbstain };
    }
    var seats = Number(fieldset.dataset.seats);
    if (checked.length > seats) {
      throw shown(data.msgTooMany.replace("{seats}", String(seats)));
    }
    var labels = electionChoice(
      checked.map(function (input) {
        return input.value;
      })
    );
    return { choice: labels, words: labels.join("、") };
  }

  function isAbstain(input) {
    return input.classList.contains("abstain");
  }

  // An election: abstaining excludes candidates, and at most `seats` candidates.
  function onElectionChange(fieldset, input) {
    var box = choicesOf(fieldset);
    var note = box.querySelector(".field-message");
    var boxes = Array.prototype.slice.call(box.querySelectorAll("input[type=checkbox]"));
    say(note, "", false);
    if (!input.checked) {
      return;
    }
    boxes.forEach(function (other) {
      if (other !== input && (isAbstain(input) || isAbstain(other))) {
        other.checked = false;
      }
    });
    var seats = Number(fieldset.dataset.seats);
    var count = boxes.filter(function (other) {
      return other.checked && !isAbstain(other);
    }).length;
    if (count > seats) {
      input.checked = false;
      say(note, data.msgTooMany.replace("{seats}", String(seats)), true);
    }
  }

  function showStep(step) {
    form.hidden = step !== "choose";
    confirmSection.hidden = step !== "confirm";
    receiptsSection.hidden = step !== "receipts";
    var heading = step === "confirm" ? confirmHeading : step === "receipts" ? receiptsHeading : null;
    if (heading) {
      heading.focus();
    }
    global.scrollTo(0, 0);
  }

  function review() {
    say(formMessage, "", false);
    chosen = [];
    var items = [];
    try {
      motionFieldsets().forEach(function (fieldset) {
        if (!choicesOf(fieldset)) {
          return;
        }
        var read = readChoice(fieldset);
        var entry = {
          group: fieldset.dataset.group,
          title: fieldset.dataset.title,
          words: read ? read.words : null,
        };
        items.push(entry);
        if (read) {
          chosen.push({
            motion: Number(fieldset.dataset.motion),
            voter: fieldset.dataset.voter,
            proxy: fieldset.dataset.proxy || null,
            group: fieldset.dataset.group,
            title: fieldset.dataset.title,
            choice: read.choice,
            words: read.words,
          });
        }
      });
    } catch (error) {
      say(formMessage, error.message, true);
      return;
    }
    if (!chosen.length) {
      say(formMessage, data.msgChoose, true);
      return;
    }
    confirmList.textContent = "";
    var groups = new Set(
      items.map(function (item) {
        return item.group;
      })
    );
    var lastGroup = null;
    items.forEach(function (item) {
      if (groups.size > 1 && item.group !== lastGroup) {
        var heading = document.createElement("li");
        heading.className = "confirm-group";
        heading.textContent = item.group;
        confirmList.appendChild(heading);
        lastGroup = item.group;
      }
      var li = document.createElement("li");
      var title = document.createElement("span");
      title.className = "confirm-title";
      title.textContent = item.title;
      var words = document.createElement("strong");
      words.className = item.words ? "confirm-choice" : "confirm-choice muted";
      words.textContent = item.words || data.msgNotVoting;
      li.appendChild(title);
      li.appendChild(words);
      confirmList.appendChild(li);
    });
    say(voteMessage, "", false);
    showStep("confirm");
  }

  // --- the card key ---------------------------------------------------------------------

  // The key must be the logged-in card's: sign a random message, verify with its public key.
  async function isCardKey(key) {
    var probe = crypto.getRandomValues(new Uint8Array(32));
    var signature = await crypto.subtle.sign({ name: "Ed25519" }, key, probe);
    var publicKey = await crypto.subtle.importKey(
      "raw",
      fromHex(data.cardKey),
      { name: "Ed25519" },
      false,
      ["verify"]
    );
    return crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, probe);
  }

  async function useSeed(seed) {
    var key;
    try {
      key = await OwnerCard.importCardKey(seed);
    } finally {
      seed.fill(0);
    }
    if (!(await isCardKey(key))) {
      throw shown(data.msgWrongCard);
    }
    cardKey = key;
    codeInput.value = "";
    unlock.hidden = true;
    say(cardReady, data.msgCardReady, false);
  }

  async function unlockWithCode() {
    var code = OwnerCard.normaliseBackupCode(codeInput.value);
    if (!code) {
      codeInput.focus();
      throw shown(data.msgBadCode);
    }
    await useSeed(await OwnerCard.seedFromBackupCode(data.cardNumber, code));
  }

  // Scanning the card's QR code, where the browser has a QR detector and a camera.
  var scanning = null;

  function canScan() {
    return Boolean(
      "BarcodeDetector" in global && navigator.mediaDevices && navigator.mediaDevices.getUserMedia
    );
  }

  function stopScan() {
    if (scanning && scanning.stream) {
      scanning.stream.getTracks().forEach(function (track) {
        track.stop();
      });
    }
    scanning = null;
    video.srcObject = null;
    video.hidden = true;
    scanStop.hidden = true;
    scanStart.hidden = false;
  }

  async function startScan() {
    say(voteMessage, data.msgScanning, false);
    var session = {};
    scanning = session;
    try {
      session.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment" },
        audio: false,
      });
      video.srcObject = session.stream;
      video.hidden = false;
      scanStart.hidden = true;
      scanStop.hidden = false;
      await video.play();
      session.detector = new global.BarcodeDetector({ formats: ["qr_code"] });
    } catch (error) {
      stopScan();
      say(voteMessage, data.msgNoCamera, true);
      return;
    }
    scanFrame(session);
  }

  function scanFrame(session) {
    if (scanning !== session) {
      return;
    }
    session.detector
      .detect(video)
      .then(function (codes) {
        for (var i = 0; i < codes.length; i++) {
          var text = String(codes[i].rawValue || "");
          var parsed = OwnerCard.parseFragment(text.split("#")[1] || "");
          if (parsed) {
            stopScan();
            return acceptScanned(parsed);
          }
        }
        global.setTimeout(function () {
          scanFrame(session);
        }, 250);
      })
      .catch(function () {
        stopScan();
        say(voteMessage, data.msgNoCamera, true);
      });
  }

  function acceptScanned(parsed) {
    if (parsed.number !== data.cardNumber) {
      parsed.seed.fill(0);
      say(voteMessage, data.msgWrongCard, true);
      return Promise.resolve();
    }
    return useSeed(parsed.seed).then(
      function () {
        say(voteMessage, "", false);
      },
      function (error) {
        say(voteMessage, error && error.shown ? error.message : data.msgUnsupported, true);
      }
    );
  }

  // --- talking to the API -----------------------------------------------------------------

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
    if (!response.ok || !body || typeof body !== "object") {
      throw shown(body && typeof body.message === "string" ? body.message : data.msgServer);
    }
    return body;
  }

  // The page's fields for one voter: the card's holder, or an owner they represent.
  function pageFor(entry) {
    return Object.assign({}, page, { voter: entry.voter, proxy: entry.proxy });
  }

  async function castOne(challenge, entry) {
    var statement;
    try {
      statement = ballotStatement(pageFor(entry), challenge, entry.motion, entry.choice);
    } catch (error) {
      throw shown(error.reason === "no-nonce" ? data.msgNoNonce : data.msgMismatch);
    }
    var bytes = new TextEncoder().encode(canonicalJSON(statement, 0));
    var signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, cardKey, bytes));
    var receipt = await postJSON(data.ballotsUrl, {
      statement: OwnerCard.base64url(bytes),
      signature: OwnerCard.base64url(signature),
    });
    var expected = await sha256Hex(bytes);
    if (receipt.ballot_hash !== expected || receipt.motion !== entry.motion) {
      throw shown(data.msgBadReceipt);
    }
    return receipt;
  }

  function beijingTime(text) {
    var moment = Date.parse(text);
    if (!TIME.test(text || "") || isNaN(moment)) {
      return "";
    }
    return new Date(moment + 8 * 3600 * 1000).toISOString().slice(0, 19).replace("T", " ");
  }

  function addReceipt(entry, receipt, error) {
    var li = document.createElement("li");
    li.className = "receipt-item";
    if (entry.proxy) {
      var group = document.createElement("span");
      group.className = "receipt-group";
      group.textContent = entry.group;
      li.appendChild(group);
    }
    var title = document.createElement("strong");
    title.textContent = entry.title + ": " + entry.words;
    li.appendChild(title);
    var badge = document.createElement("span");
    badge.className = receipt ? "badge badge-voted" : "badge";
    badge.textContent = receipt ? data.msgRecorded : data.msgNotRecorded;
    li.appendChild(badge);
    if (receipt) {
      var details = document.createElement("span");
      details.className = "muted";
      details.textContent =
        data.msgTime + " " + beijingTime(receipt.time) + " · " + data.msgLogIndex + " " +
        String(receipt.log_index);
      li.appendChild(details);
      var link = document.createElement("a");
      link.className = "hash";
      link.href = data.receiptBase + receipt.ballot_hash;
      link.textContent = receipt.ballot_hash;
      li.appendChild(link);
    } else {
      var message = document.createElement("span");
      message.className = "notice notice-error";
      message.textContent = error;
      li.appendChild(message);
    }
    receiptList.appendChild(li);
  }

  async function signAndSend() {
    if (!cardKey) {
      await unlockWithCode();
    }
    say(voteMessage, data.msgWorking, false);
    // One challenge per voter: the holder's own ({}), and each owner they represent.
    var challenges = {};
    var voters = [];
    chosen.forEach(function (entry) {
      if (voters.indexOf(entry.voter) < 0) {
        voters.push(entry.voter);
      }
    });
    for (var v = 0; v < voters.length; v++) {
      var first = chosen.find(function (entry) {
        return entry.voter === voters[v];
      });
      var body = first.proxy ? { voter: first.voter } : {};
      var challenge = await postJSON(data.challengeUrl, body);
      try {
        ballotStatement(pageFor(first), challenge, first.motion, first.choice);
      } catch (error) {
        if (error.reason === "mismatch") {
          throw shown(data.msgMismatch);
        }
      }
      challenges[first.voter] = challenge;
    }
    receiptList.textContent = "";
    var failures = 0;
    for (var i = 0; i < chosen.length; i++) {
      try {
        addReceipt(chosen[i], await castOne(challenges[chosen[i].voter], chosen[i]), null);
      } catch (error) {
        failures += 1;
        addReceipt(chosen[i], null, error && error.shown ? error.message : data.msgUnsupported);
      }
    }
    say(receiptsMessage, failures ? data.msgSomeFailed : data.msgDone, failures > 0);
    say(voteMessage, "", false);
    showStep("receipts");
  }

  // --- wiring -------------------------------------------------------------------------------

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    review();
  });
  form.addEventListener("change", function (event) {
    var input = event.target;
    var fieldset = input && input.closest ? input.closest("fieldset.motion") : null;
    if (fieldset && fieldset.dataset.kind === "election" && input.type === "checkbox") {
      onElectionChange(fieldset, input);
    }
  });
  Array.prototype.forEach.call(form.querySelectorAll(".change-vote"), function (button) {
    button.addEventListener("click", function () {
      var box = document.getElementById(button.dataset.target);
      box.hidden = false;
      button.hidden = true;
      var first = box.querySelector("input");
      if (first) {
        first.focus();
      }
    });
  });
  backButton.addEventListener("click", function () {
    if (!busy) {
      stopScan();
      showStep("choose");
    }
  });
  submitButton.addEventListener("click", function () {
    if (busy) {
      return;
    }
    busy = true;
    submitButton.disabled = true;
    backButton.disabled = true;
    stopScan();
    signAndSend()
      .catch(function (error) {
        say(voteMessage, error && error.shown ? error.message : data.msgUnsupported, true);
      })
      .finally(function () {
        busy = false;
        submitButton.disabled = false;
        backButton.disabled = false;
      });
  });
  scanStart.addEventListener("click", function () {
    startScan();
  });
  scanStop.addEventListener("click", function () {
    stopScan();
    say(voteMessage, "", false);
  });

  if (!supported()) {
    say(formMessage, data.msgUnsupported, true);
    return;
  }
  nextButton.hidden = false;
  scanArea.hidden = !canScan();
})(window);
