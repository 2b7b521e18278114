/*
 * The observer page (/observer/<area>): checks in the browser that the area's log only grows.
 *
 * 1. Ask the server for a fresh checkpoint (POST …/log/checkpoint) and verify its Ed25519
 *    signature with the log's verifier key (WebCrypto), and that it names this area's log.
 * 2. Compare it with the checkpoint this browser saw last time (localStorage), itself verified
 *    again: same size → same root; larger → fetch a consistency proof and verify it with the
 *    algorithm of RFC 9162 §2.1.4.2 (SHA-256 through SubtleCrypto); smaller → alarm.
 * 3. Remember the new checkpoint only when everything held; after an alarm the old one stays,
 *    as evidence.
 * 4. Show the latest entries, each hashed again here and compared with its leaf hash.
 *
 * Messages come from data-msg-* attributes of #observer, translated by the server.
 * The hashing, proof and signature checks are in js/merkle.js (loaded first).
 */
(function () {
  "use strict";

  var root = document.getElementById("observer");
  if (!root) {
    return;
  }
  var messages = root.dataset;
  var api = messages.api;
  var origin = messages.origin;
  var storageKey = "voting.observer." + origin;
  var status = document.getElementById("observer-status");
  var output = document.getElementById("observer-message");
  var detail = document.getElementById("observer-detail");
  var oldSize = document.getElementById("observer-old-size");
  var newSize = document.getElementById("observer-new-size");
  var again = document.getElementById("observer-again");
  var entriesBody = document.getElementById("observer-entries");
  var SHOWN_ENTRIES = 20;

  // --- failures ------------------------------------------------------------------------------

  // A finding that the log may have been altered: shown as an alarm. `reason` names the
  // data-msg-* message (Fork → data-msg-fork) and is shown as data-reason for tests.
  function Alarm(reason, extra) {
    this.reason = reason;
    this.text = messages["msg" + reason];
    this.extra = extra || "";
  }

  // A failure to check at all (network, old browser): shown as an error, not an alarm.
  function Trouble(text) {
    this.text = text;
  }

  // --- bytes, proofs and signed notes: shared with the receipt page (js/merkle.js) ------------

  var Merkle = window.Merkle;
  var hexToBytes = Merkle.hexToBytes;
  var bytesToHex = Merkle.bytesToHex;
  var base64ToBytes = Merkle.base64ToBytes;
  var equal = Merkle.equal;
  var leafHash = Merkle.leafHash;

  // RFC 9162 §2.1.4.2; a proof that does not verify is an alarm.
  async function verifyConsistency(size1, size2, root1, root2, proof) {
    if (!(await Merkle.verifyConsistency(size1, size2, root1, root2, proof))) {
      throw new Alarm("Inconsistent");
    }
  }

  async function parseVerifierKey(text) {
    try {
      return await Merkle.parseVerifierKey(text);
    } catch (error) {
      var unsupported = error instanceof Merkle.KeyError && error.unsupported;
      throw new Trouble(unsupported ? messages.msgUnsupported : messages.msgBadSignature);
    }
  }

  // Verify the note's signature by the log key and parse its checkpoint body strictly.
  async function openCheckpoint(note, verifier, failure) {
    var checkpoint = await Merkle.openCheckpoint(note, verifier);
    if (!checkpoint) {
      throw new Alarm(failure);
    }
    if (checkpoint.origin !== origin) {
      throw new Alarm("Origin");
    }
    return checkpoint;
  }

  // For tests and for anyone who wants to check by hand in the console.
  window.ObserverLog = {
    verifyConsistency: verifyConsistency,
    parseVerifierKey: parseVerifierKey,
    openCheckpoint: openCheckpoint,
    leafHash: leafHash,
    hexToBytes: hexToBytes,
    base64ToBytes: base64ToBytes,
    Alarm: Alarm,
  };

  // --- talking to the server ---------------------------------------------------------------

  async function request(url, options) {
    var response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      throw new Trouble(messages.msgNetwork);
    }
    var body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok || !body) {
      throw new Trouble((body && body.message) || messages.msgNetwork);
    }
    return body;
  }

  function getJSON(url) {
    return request(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  }

  function freshCheckpoint() {
    return request(api + "/checkpoint", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: "{}",
    });
  }

  // --- remembered checkpoint -------------------------------------------------------------------

  function remembered() {
    try {
      var value = JSON.parse(window.localStorage.getItem(storageKey) || "null");
      return value && typeof value === "object" ? value : null;
    } catch (error) {
      return { damaged: true };
    }
  }

  function remember(note, keyText) {
    try {
      window.localStorage.setItem(storageKey, JSON.stringify({ note: note, key: keyText }));
    } catch (error) {
      // Private mode without storage: the check still ran, it just cannot be continued.
    }
  }

  // --- showing ---------------------------------------------------------------------------------

  function show(state, text, extra, reason) {
    status.dataset.state = state;
    status.dataset.reason = reason || "";
    status.className = "observer-status observer-" + state;
    status.setAttribute("role", state === "alarm" ? "alert" : "status");
    output.textContent = text;
    detail.textContent = extra || "";
    detail.hidden = !extra;
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (match, name) {
      return name in values ? String(values[name]) : match;
    });
  }

  // The latest checkpoint card, once the fresh one has verified.
  function showCheckpoint(checkpoint) {
    document.getElementById("checkpoint-size").textContent = String(checkpoint.size);
    document.getElementById("checkpoint-root").textContent = bytesToHex(checkpoint.root);
    document.getElementById("checkpoint-note").textContent = checkpoint.note;
    document.getElementById("checkpoint-shown").hidden = false;
    document.getElementById("checkpoint-none").hidden = true;
  }

  function describe(label, checkpoint) {
    return label + " " + checkpoint.size + " · " + bytesToHex(checkpoint.root);
  }

  async function showEntries(size) {
    entriesBody.textContent = "";
    if (size === 0n) {
      return;
    }
    var start = size > BigInt(SHOWN_ENTRIES) ? size - BigInt(SHOWN_ENTRIES) : 0n;
    var page = await getJSON(api + "/entries?start=" + start + "&end=" + size);
    var rows = (page.entries || []).slice().reverse();
    var bad = false;
    for (var i = 0; i < rows.length; i++) {
      var item = rows[i];
      var entry = base64ToBytes(item.entry) || new Uint8Array();
      var good = bytesToHex(await leafHash(entry)) === item.leaf;
      bad = bad || !good;
      var parsed = {};
      try {
        parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(entry));
      } catch (error) {
        parsed = {};
      }
      var tr = document.createElement("tr");
      [
        String(item.index),
        String(parsed.time || ""),
        String(parsed.kind || ""),
        (item.leaf || "").slice(0, 16) + "… " + (good ? messages.msgVerified : messages.msgMismatch),
      ].forEach(function (text, column) {
        var cell = document.createElement("td");
        cell.textContent = text;
        if (column === 0) {
          cell.className = "num";
        }
        if (column === 3) {
          cell.className = good ? "observer-good" : "observer-bad";
        }
        tr.appendChild(cell);
      });
      entriesBody.appendChild(tr);
    }
    if (bad) {
      throw new Alarm("BadEntry");
    }
  }

  // --- the check -----------------------------------------------------------------------------

  async function check() {
    var keyText = messages.key;
    var verifier = await parseVerifierKey(keyText);
    var fresh = await freshCheckpoint();
    var current = await openCheckpoint(fresh.note, verifier, "BadSignature");
    newSize.textContent = String(current.size);
    showCheckpoint(current);
    var stored = remembered();
    if (!stored) {
      remember(current.note, keyText);
      oldSize.textContent = "–";
      show("first", messages.msgFirst);
      return current;
    }
    if (stored.damaged) {
      throw new Alarm("BadRemembered");
    }
    if (stored.key !== keyText) {
      throw new Alarm("KeyChanged", String(stored.key || ""));
    }
    var old = await openCheckpoint(stored.note, verifier, "BadRemembered");
    oldSize.textContent = String(old.size);
    var extra = describe(messages.msgBefore, old) + "\n" + describe(messages.msgNow, current);
    if (old.size > current.size) {
      throw new Alarm("Shrunk", extra);
    }
    if (old.size === current.size) {
      if (!equal(old.root, current.root)) {
        throw new Alarm("Fork", extra);
      }
      show("consistent", fill(messages.msgSame, { new: current.size }));
      return current;
    }
    if (old.size > 0n) {
      var answer = await getJSON(
        api + "/consistency?from=" + old.size + "&to=" + current.size
      );
      var proof = (answer.proof || []).map(hexToBytes);
      if (proof.some(function (item) { return !item || item.length !== 32; })) {
        throw new Alarm("Inconsistent", extra);
      }
      try {
        await verifyConsistency(old.size, current.size, old.root, current.root, proof);
      } catch (error) {
        if (error instanceof Alarm) {
          error.extra = extra;
        }
        throw error;
      }
    }
    remember(current.note, keyText);
    show("consistent", fill(messages.msgConsistent, { new: current.size, old: old.size }));
    return current;
  }

  async function run() {
    again.disabled = true;
    show("checking", messages.msgChecking);
    try {
      if (!(window.crypto && crypto.subtle && window.fetch && window.BigInt)) {
        throw new Trouble(messages.msgUnsupported);
      }
      var current = await check();
      await showEntries(current.size);
    } catch (error) {
      if (error instanceof Alarm) {
        show("alarm", messages.msgAlarm + " " + error.text, error.extra, error.reason);
      } else if (error instanceof Trouble) {
        show("error", error.text);
      } else {
        show("error", messages.msgNetwork);
      }
    } finally {
      again.disabled = false;
    }
  }

  again.addEventListener("click", run);
  run();
})();
