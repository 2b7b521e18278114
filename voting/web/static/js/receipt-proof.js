/*
 * The receipt page (/receipts/<ballot hash>): proves in the browser that the ballot is in the
 * property area's log, trusting nothing the server says without checking it.
 *
 * 1. Fetch the log's verifier key (…/log/key) and the latest checkpoint; verify its Ed25519
 *    signature (WebCrypto) and that it names this area's log. When it does not cover the
 *    ballot's leaf index yet, ask for a fresh one (POST …/log/checkpoint); the server signs at
 *    most one per second and area, so an older answer (or a 429) only means that the next
 *    checkpoint will include this ballot.
 * 2. Fetch the entry at the leaf index (…/log/entries?start=i&end=i+1), check that it is the
 *    "ballot" entry of this area and index that names this ballot hash, and hash it here:
 *    SHA-256(0x00 || entry bytes).
 * 3. Fetch the inclusion proof for that index and the checkpoint's size and verify it
 *    (RFC 9162 §2.1.3.2) against the checkpoint's root.
 *
 * The shared checks are in js/merkle.js (loaded first). Messages come from data-msg-*
 * attributes of #proof, translated by the server. #proof-status gets data-state (checking,
 * verified, pending, failed, error) and, when failed, data-reason (BadKey, BadSignature,
 * Origin, WrongEntry, BadProof).
 */
(function () {
  "use strict";

  var root = document.getElementById("proof");
  if (!root || !window.Merkle) {
    return;
  }
  var Merkle = window.Merkle;
  var messages = root.dataset;
  var api = messages.api;
  var origin = messages.origin;
  var area = messages.area;
  var ballotHash = messages.ballotHash;
  var indexText = messages.logIndex || "";
  var status = document.getElementById("proof-status");
  var output = document.getElementById("proof-message");
  var detail = document.getElementById("proof-detail");
  var again = document.getElementById("proof-again");

  // --- outcomes --------------------------------------------------------------------------------

  // A check that did not hold: the proof fails. `reason` names the data-msg-* message
  // (WrongEntry → data-msg-wrong-entry).
  function Failure(reason) {
    this.reason = reason;
    this.text = messages["msg" + reason];
  }

  // A failure to check at all (network, server refusal, old browser): not a verdict.
  function Trouble(text, httpStatus) {
    this.text = text;
    this.status = httpStatus || 0;
  }

  // No signed checkpoint covers the ballot yet.
  function Pending() {}

  // --- talking to the server -----------------------------------------------------------------

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
    if (!response.ok || !body || typeof body !== "object") {
      var text = body && typeof body.message === "string" ? body.message : messages.msgNetwork;
      throw new Trouble(text, response.status);
    }
    return body;
  }

  function getJSON(url) {
    return request(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  }

  // The latest checkpoint, or null before the first.
  async function latestCheckpoint() {
    try {
      return await getJSON(api + "/checkpoint");
    } catch (error) {
      if (error instanceof Trouble && error.status === 404) {
        return null;
      }
      throw error;
    }
  }

  // A fresh checkpoint, or null when the server declines for now (rate limit).
  async function freshCheckpoint() {
    try {
      return await request(api + "/checkpoint", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: "{}",
      });
    } catch (error) {
      if (error instanceof Trouble && error.status === 429) {
        return null;
      }
      throw error;
    }
  }

  // --- showing ---------------------------------------------------------------------------------

  function show(state, text, extra, reason) {
    status.dataset.state = state;
    status.dataset.reason = reason || "";
    status.className = "proof-status proof-" + state;
    status.setAttribute("role", state === "failed" ? "alert" : "status");
    output.textContent = text;
    detail.textContent = extra || "";
    detail.hidden = !extra;
  }

  function showCheckpoint(checkpoint) {
    document.getElementById("proof-size").textContent = String(checkpoint.size);
    document.getElementById("proof-root").textContent = Merkle.bytesToHex(checkpoint.root);
    document.getElementById("proof-note").textContent = checkpoint.note;
    document.getElementById("proof-checkpoint").hidden = false;
    document.getElementById("proof-details").hidden = false;
  }

  function showProof(hashes) {
    var list = document.getElementById("proof-hashes");
    list.textContent = "";
    hashes.forEach(function (text) {
      var item = document.createElement("li");
      var code = document.createElement("code");
      code.className = "observer-hash";
      code.textContent = String(text);
      item.appendChild(code);
      list.appendChild(item);
    });
  }

  function clear() {
    ["proof-size", "proof-root", "proof-note", "proof-leaf", "proof-hashes"].forEach(function (id) {
      document.getElementById(id).textContent = "";
    });
    document.getElementById("proof-checkpoint").hidden = true;
    document.getElementById("proof-details").hidden = true;
  }

  // --- the check -------------------------------------------------------------------------------

  async function verifierKey() {
    var answer = await getJSON(api + "/key");
    try {
      return await Merkle.parseVerifierKey(answer.key);
    } catch (error) {
      if (error instanceof Merkle.KeyError && error.unsupported) {
        throw new Trouble(messages.msgUnsupported);
      }
      throw new Failure("BadKey");
    }
  }

  async function open(answer, verifier) {
    var checkpoint = await Merkle.openCheckpoint(answer && answer.note, verifier);
    if (!checkpoint) {
      throw new Failure("BadSignature");
    }
    if (checkpoint.origin !== origin) {
      throw new Failure("Origin");
    }
    return checkpoint;
  }

  // The "ballot" entry of this area at the index, naming this ballot: its bytes.
  async function ballotEntry(index) {
    var page = await getJSON(api + "/entries?start=" + index + "&end=" + (index + 1n));
    var item = Array.isArray(page.entries) && page.entries.length ? page.entries[0] : null;
    var bytes = item ? Merkle.base64ToBytes(item.entry) : null;
    if (!bytes || String(item.index) !== String(index)) {
      throw new Failure("WrongEntry");
    }
    var parsed = null;
    try {
      parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (error) {
      parsed = null;
    }
    var data = parsed && typeof parsed === "object" ? parsed.data : null;
    if (
      !data ||
      typeof data !== "object" ||
      data.ballot !== ballotHash ||
      parsed.kind !== "ballot" ||
      parsed.area !== area ||
      String(parsed.seq) !== String(index)
    ) {
      throw new Failure("WrongEntry");
    }
    return bytes;
  }

  async function check(index) {
    var verifier = await verifierKey();
    var latest = await latestCheckpoint();
    var checkpoint = latest ? await open(latest, verifier) : null;
    if (!checkpoint || checkpoint.size <= index) {
      var fresh = await freshCheckpoint();
      if (fresh) {
        checkpoint = await open(fresh, verifier);
      }
    }
    if (!checkpoint || checkpoint.size <= index) {
      throw new Pending();
    }
    showCheckpoint(checkpoint);
    var entry = await ballotEntry(index);
    var leaf = await Merkle.leafHash(entry);
    document.getElementById("proof-leaf").textContent = Merkle.bytesToHex(leaf);
    var answer = await getJSON(api + "/inclusion?index=" + index + "&size=" + checkpoint.size);
    var hashes = Array.isArray(answer.proof) ? answer.proof : null;
    showProof(hashes || []);
    var proof = (hashes || []).map(Merkle.hexToBytes);
    var good =
      hashes !== null &&
      (await Merkle.verifyInclusion(index, checkpoint.size, leaf, checkpoint.root, proof));
    if (!good) {
      throw new Failure("BadProof");
    }
  }

  async function run() {
    again.hidden = true;
    clear();
    show("checking", messages.msgChecking);
    try {
      if (!(window.crypto && crypto.subtle && window.fetch && window.BigInt)) {
        throw new Trouble(messages.msgUnsupported);
      }
      if (!/^(0|[1-9][0-9]{0,19})$/.test(indexText) || !api || !origin || !ballotHash) {
        throw new Trouble(messages.msgNetwork);
      }
      await check(BigInt(indexText));
      show("verified", messages.msgVerified);
    } catch (error) {
      if (error instanceof Failure) {
        show("failed", messages.msgFailed, error.text, error.reason);
      } else if (error instanceof Pending) {
        show("pending", messages.msgPending);
      } else if (error instanceof Trouble) {
        show("error", messages.msgTrouble + " " + error.text);
      } else {
        show("error", messages.msgTrouble + " " + messages.msgNetwork);
      }
    } finally {
      again.hidden = false;
    }
  }

  again.addEventListener("click", run);
  run();
})();
