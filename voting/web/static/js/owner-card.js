/*
 * The owner card in the browser: card numbers, backup codes, the QR link, the card key and
 * canonical JSON. See docs/PROTOCOL.md, section 6. No framework, no network access: the seed
 * and the key stay in the memory of the page that uses them.
 *
 *   OwnerCard.parseFragment("1.<number>.<base64url seed>")  -> {number, seed} or null
 *   OwnerCard.normaliseCardNumber(text)                     -> "NHXY-000123" or null
 *   OwnerCard.normaliseBackupCode(text)                     -> 20 characters or null
 *   OwnerCard.seedFromBackupCode(number, code)              -> Promise<Uint8Array(32)>
 *   OwnerCard.importCardKey(seed)                           -> Promise<CryptoKey> (sign only)
 *   OwnerCard.canonicalJSON(flatObject)                     -> RFC 8785 text
 *   OwnerCard.signStatement(key, statement)                 -> Promise<{bytes, signature}>
 *   OwnerCard.base64url(bytes), OwnerCard.fromBase64url(text)
 */
(function (global) {
  "use strict";

  var CARD_NUMBER = /^[A-Z0-9]{1,16}-[0-9]{6}$/;
  var ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  var CODE_LENGTH = 20;
  var SEED_SIZE = 32;
  var SEED_SALT = "owner-card-seed/v1";
  var QR_VERSION = "1";
  // PKCS#8 wrapping of an Ed25519 private key (RFC 8410): this prefix, then the 32-byte seed.
  var PKCS8_PREFIX = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
  ];

  function ascii(text) {
    return new TextEncoder().encode(text);
  }

  function base64url(bytes) {
    var binary = "";
    var view = new Uint8Array(bytes);
    for (var i = 0; i < view.length; i++) {
      binary += String.fromCharCode(view[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // Strict: only the unpadded base64url alphabet, and only the one canonical text per value.
  function fromBase64url(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
      return null;
    }
    var padded = text.replace(/-/g, "+").replace(/_/g, "/");
    while (padded.length % 4) {
      padded += "=";
    }
    var binary;
    try {
      binary = atob(padded);
    } catch (error) {
      return null;
    }
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return base64url(bytes) === text ? bytes : null;
  }

  function normaliseCardNumber(text) {
    var cleaned = String(text || "").replace(/\s+/g, "").toUpperCase();
    return CARD_NUMBER.test(cleaned) ? cleaned : null;
  }

  // As crypto.cardcode.normalize_backup_code: upper-case, drop spaces and hyphens, read I and
  // L as 1 and O as 0.
  function normaliseBackupCode(text) {
    var cleaned = String(text || "")
      .replace(/[\s-]+/g, "")
      .toUpperCase()
      .replace(/[IL]/g, "1")
      .replace(/O/g, "0");
    if (cleaned.length !== CODE_LENGTH) {
      return null;
    }
    for (var i = 0; i < cleaned.length; i++) {
      if (ALPHABET.indexOf(cleaned[i]) < 0) {
        return null;
      }
    }
    return cleaned;
  }

  function parseFragment(fragment) {
    var parts = String(fragment || "").replace(/^#/, "").split(".");
    if (parts.length !== 3 || parts[0] !== QR_VERSION || !CARD_NUMBER.test(parts[1])) {
      return null;
    }
    var seed = parts[2].length === 43 ? fromBase64url(parts[2]) : null;
    return seed && seed.length === SEED_SIZE ? { number: parts[1], seed: seed } : null;
  }

  // HKDF-SHA-256(ikm = normalised code, salt = "owner-card-seed/v1", info = card number).
  async function seedFromBackupCode(number, code) {
    var material = await crypto.subtle.importKey("raw", ascii(code), "HKDF", false, [
      "deriveBits",
    ]);
    var bits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: ascii(SEED_SALT), info: ascii(number) },
      material,
      SEED_SIZE * 8
    );
    return new Uint8Array(bits);
  }

  function importCardKey(seed) {
    var pkcs8 = new Uint8Array(PKCS8_PREFIX.length + SEED_SIZE);
    pkcs8.set(PKCS8_PREFIX, 0);
    pkcs8.set(seed, PKCS8_PREFIX.length);
    return crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  }

  function canonicalValue(value) {
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

  // RFC 8785 for a flat object. The default sort compares UTF-16 code units, as JCS requires.
  function canonicalJSON(object) {
    var keys = Object.keys(object).sort();
    var members = keys.map(function (key) {
      return canonicalValue(key) + ":" + canonicalValue(object[key]);
    });
    return "{" + members.join(",") + "}";
  }

  async function signStatement(key, statement) {
    var bytes = new TextEncoder().encode(canonicalJSON(statement));
    var signature = await crypto.subtle.sign({ name: "Ed25519" }, key, bytes);
    return { bytes: bytes, signature: new Uint8Array(signature) };
  }

  global.OwnerCard = Object.freeze({
    base64url: base64url,
    fromBase64url: fromBase64url,
    normaliseCardNumber: normaliseCardNumber,
    normaliseBackupCode: normaliseBackupCode,
    parseFragment: parseFragment,
    seedFromBackupCode: seedFromBackupCode,
    importCardKey: importCardKey,
    canonicalJSON: canonicalJSON,
    signStatement: signStatement,
  });
})(window);
