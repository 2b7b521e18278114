/*
 * Checking the log in the browser: the pieces shared by the observer page (js/observer.js)
 * and the receipt page (js/receipt-proof.js). Nothing here talks to the server or the page.
 *
 * - bytes: hex, canonical padded base64, concatenation, constant-time comparison;
 * - the Merkle tree of RFC 9162 §2.1 (docs/PROTOCOL.md section 7) with SHA-256 through
 *   SubtleCrypto: leaf and node hashes, inclusion proofs (§2.1.3.2), consistency proofs
 *   (§2.1.4.2);
 * - signed checkpoints (C2SP signed-note and tlog-checkpoint, PROTOCOL.md section 8): the
 *   verifier key and the note's Ed25519 signature through WebCrypto.
 *
 * The proof checks answer true or false and never throw on bad input, so that each page can
 * name the failure in its own words. Sizes and indexes are BigInt.
 */
(function () {
  "use strict";

  var encoder = new TextEncoder();

  // --- bytes ---------------------------------------------------------------------------------

  function hexToBytes(text) {
    if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) {
      return null;
    }
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) {
      out[i] = parseInt(text.substr(i * 2, 2), 16);
    }
    return out;
  }

  function bytesToHex(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i++) {
      out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return out;
  }

  // Canonical padded base64 only (as the signed-note format requires), else null.
  function base64ToBytes(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
      return null;
    }
    var binary;
    try {
      binary = atob(text);
    } catch (error) {
      return null;
    }
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      out[i] = binary.charCodeAt(i);
    }
    return btoa(binary) === text ? out : null;
  }

  function concat(parts) {
    var length = 0;
    parts.forEach(function (part) {
      length += part.length;
    });
    var out = new Uint8Array(length);
    var offset = 0;
    parts.forEach(function (part) {
      out.set(part, offset);
      offset += part.length;
    });
    return out;
  }

  function equal(a, b) {
    if (!a || !b || a.length !== b.length) {
      return false;
    }
    var diff = 0;
    for (var i = 0; i < a.length; i++) {
      diff |= a[i] ^ b[i];
    }
    return diff === 0;
  }

  function isHash(item) {
    return item instanceof Uint8Array && item.length === 32;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  // --- the tree ------------------------------------------------------------------------------

  // RFC 9162 §2.1.1: leaf hash SHA-256(0x00 || entry), node hash SHA-256(0x01 || l || r).
  function leafHash(entry) {
    return sha256(concat([new Uint8Array([0]), entry]));
  }

  function nodeHash(left, right) {
    return sha256(concat([new Uint8Array([1]), left, right]));
  }

  // RFC 9162 §2.1.3.2: is `leaf` the leaf at `index` of the tree of `size` with root `root`?
  async function verifyInclusion(index, size, leaf, root, proof) {
    if (typeof index !== "bigint" || typeof size !== "bigint" || index < 0n || index >= size) {
      return false;
    }
    if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof) || !proof.every(isHash)) {
      return false;
    }
    var fn = index;
    var sn = size - 1n;
    var r = leaf;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (sn === 0n) {
        return false;
      }
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n && equal(r, root);
  }

  // RFC 9162 §2.1.4.2: does the tree of size2 with root2 extend the one of size1 with root1?
  async function verifyConsistency(size1, size2, root1, root2, proof) {
    if (typeof size1 !== "bigint" || typeof size2 !== "bigint" || !Array.isArray(proof)) {
      return false;
    }
    if (size1 > size2 || size1 < 1n) {
      return false;
    }
    if (size1 === size2) {
      return !proof.length && equal(root1, root2);
    }
    if (!isHash(root1) || !isHash(root2) || !proof.length || !proof.every(isHash)) {
      return false;
    }
    var path = proof.slice();
    if ((size1 & (size1 - 1n)) === 0n) {
      path.unshift(root1);
    }
    var fn = size1 - 1n;
    var sn = size2 - 1n;
    while ((fn & 1n) === 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    var fr = path[0];
    var sr = path[0];
    for (var i = 1; i < path.length; i++) {
      var c = path[i];
      if (sn === 0n) {
        return false;
      }
      if ((fn & 1n) === 1n || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n && equal(fr, root1) && equal(sr, root2);
  }

  // --- signed notes (C2SP signed-note, tlog-checkpoint) ----------------------------------------

  // A verifier key the browser refuses: `unsupported` when WebCrypto lacks Ed25519.
  function KeyError(unsupported) {
    this.unsupported = Boolean(unsupported);
  }

  // "<name>+<8 hex key ID>+<base64(0x01 || 32-byte key)>", with the key ID checked.
  // Resolves to {name, id, key}; rejects with a KeyError.
  async function parseVerifierKey(text) {
    // The key's base64 may itself contain "+": split at the first two only.
    text = typeof text === "string" ? text : "";
    var first = text.indexOf("+");
    var second = first < 0 ? -1 : text.indexOf("+", first + 1);
    var parts =
      second < 0 ? [] : [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
    var raw = parts.length === 3 ? base64ToBytes(parts[2]) : null;
    var id = parts.length === 3 ? hexToBytes(parts[1]) : null;
    if (!raw || raw.length !== 33 || raw[0] !== 1 || !id || id.length !== 4 || !parts[0]) {
      throw new KeyError(false);
    }
    var name = parts[0];
    var publicKey = raw.slice(1);
    var digest = await sha256(
      concat([encoder.encode(name), new Uint8Array([10, 1]), publicKey])
    );
    if (!equal(digest.slice(0, 4), id)) {
      throw new KeyError(false);
    }
    var key;
    try {
      key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, [
        "verify",
      ]);
    } catch (error) {
      throw new KeyError(true);
    }
    return { name: name, id: id, key: key };
  }

  // Verify the note's signature by the verifier (from parseVerifierKey) and parse its
  // checkpoint body strictly: {origin, size (BigInt), root (bytes), note}, or null when the
  // note is malformed or not signed by the verifier. The caller checks the origin.
  async function openCheckpoint(note, verifier) {
    if (typeof note !== "string" || note.slice(-1) !== "\n" || /[\u0000-\u0009\u000b-\u001f]/.test(note)) {
      return null;
    }
    var split = note.lastIndexOf("\n\n");
    if (split < 0) {
      return null;
    }
    var body = note.slice(0, split + 1);
    var lines = note.slice(split + 2, -1).split("\n");
    var verified = false;
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      if (line.slice(0, 2) !== "\u2014 ") {
        return null;
      }
      var fields = line.slice(2).split(" ");
      var signature = fields.length === 2 ? base64ToBytes(fields[1]) : null;
      if (!signature || signature.length < 5) {
        return null;
      }
      if (fields[0] !== verifier.name || !equal(signature.slice(0, 4), verifier.id)) {
        continue; // another signer (a witness): not ours to check
      }
      var good =
        signature.length === 68 &&
        (await crypto.subtle.verify(
          { name: "Ed25519" },
          verifier.key,
          signature.slice(4),
          encoder.encode(body)
        ));
      if (!good) {
        return null;
      }
      verified = true;
    }
    if (!verified) {
      return null;
    }
    var head = body.slice(0, -1).split("\n");
    var rootHash = head.length >= 3 ? base64ToBytes(head[2]) : null;
    if (head.length < 3 || !/^(0|[1-9][0-9]{0,19})$/.test(head[1]) || !rootHash || rootHash.length !== 32) {
      return null;
    }
    return { origin: head[0], size: BigInt(head[1]), root: rootHash, note: note };
  }

  window.Merkle = {
    hexToBytes: hexToBytes,
    bytesToHex: bytesToHex,
    base64ToBytes: base64ToBytes,
    concat: concat,
    equal: equal,
    sha256: sha256,
    leafHash: leafHash,
    nodeHash: nodeHash,
    verifyInclusion: verifyInclusion,
    verifyConsistency: verifyConsistency,
    KeyError: KeyError,
    parseVerifierKey: parseVerifierKey,
    openCheckpoint: openCheckpoint,
  };
})();
