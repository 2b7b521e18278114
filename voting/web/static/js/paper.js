/*
 * Paper ballot entry (templates/paper/enter.html): the SHA-256 of the scanned sheet,
 * computed in the browser with SubtleCrypto from the file the staff member chooses.
 *
 * The file input has no name, so the browser never sends the file: only the hash that this
 * script writes into the text field (named by the input's data-target) is submitted.
 * SubtleCrypto exists only in secure contexts (HTTPS, or 127.0.0.1 / localhost); elsewhere
 * the field is typed in by hand. Messages come from the input's data-msg-* attributes, so
 * they are in the page's language.
 */
(function () {
  "use strict";

  function hex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i++) {
      out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return out;
  }

  function readAll(file) {
    if (file.arrayBuffer) {
      return file.arrayBuffer();
    }
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () {
        resolve(reader.result);
      };
      reader.onerror = function () {
        reject(reader.error);
      };
      reader.readAsArrayBuffer(file);
    });
  }

  function attach(input) {
    var target = document.getElementById(input.getAttribute("data-target"));
    var status = document.getElementById(input.id + "-status");
    if (!target || !status) {
      return;
    }
    function say(key) {
      status.textContent = input.getAttribute("data-msg-" + key) || "";
    }
    var subtle = window.crypto && window.crypto.subtle;
    if (!subtle) {
      say("unsupported");
      input.disabled = true;
      return;
    }
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) {
        return;
      }
      say("working");
      readAll(file)
        .then(function (buffer) {
          return subtle.digest("SHA-256", buffer);
        })
        .then(function (digest) {
          target.value = hex(digest);
          say("done");
        })
        .catch(function () {
          say("error");
        });
    });
  }

  function init() {
    var inputs = document.querySelectorAll("input.paper-file");
    for (var i = 0; i < inputs.length; i++) {
      attach(inputs[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
