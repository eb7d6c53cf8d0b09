// Developer portal: make the app's key pair in this browser (WebCrypto, ECDSA P-256).
// Only the public JWK goes into the form; the private JWK is offered once as a file download
// (a Blob link) and never sent to the server. Served under CSP script-src 'self'.
"use strict";

(function () {
  const form = document.getElementById("app-form");
  if (!form) return;
  const generator = form.querySelector(".key-generator");
  const button = document.getElementById("generate-key");
  const status = document.getElementById("key-status");
  const link = document.getElementById("private-key-download");
  const textarea = document.getElementById("jwk");
  const submit = document.getElementById("create-app");
  const sources = form.querySelectorAll('input[name="key_source"]');
  const supported = window.isSecureContext && window.crypto && window.crypto.subtle;
  let generated = false;
  let downloaded = false;

  function b64url(bytes) {
    let text = "";
    new Uint8Array(bytes).forEach(function (b) { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
  async function thumbprint(jwk) {
    const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
    return b64url(digest);
  }

  function source() {
    const checked = form.querySelector('input[name="key_source"]:checked');
    return checked ? checked.value : "browser";
  }

  function refresh() {
    const browser = source() === "browser";
    if (generator) generator.hidden = !(browser && supported);
    textarea.readOnly = browser && Boolean(supported);
    // A generated key must be saved before the app is created: it is the only copy.
    submit.disabled = browser && Boolean(supported) && !(generated && downloaded);
  }

  async function generate() {
    button.disabled = true;
    status.textContent = "Generating…";
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const exported = await crypto.subtle.exportKey("jwk", pair.privateKey);
    const kid = await thumbprint(exported);
    const base = { kty: exported.kty, crv: exported.crv, x: exported.x, y: exported.y, kid: kid, use: "sig", alg: "ES256" };
    const privateJwk = Object.assign({}, base, { d: exported.d });
    textarea.value = JSON.stringify(base, null, 2);
    const url = URL.createObjectURL(new Blob([JSON.stringify(privateJwk, null, 2) + "\n"], { type: "application/json" }));
    link.href = url;
    link.download = kid + ".private.jwk.json";
    link.hidden = false;
    generated = true;
    downloaded = false;
    status.textContent = "Key " + kid + " is ready. Download the private key, then create the app.";
    link.addEventListener("click", function () {
      downloaded = true;
      status.textContent = "Private key " + kid + " downloaded. It is not kept anywhere else.";
      refresh();
      // Offered once: the link and the only in-memory copy go away after the download starts.
      setTimeout(function () {
        URL.revokeObjectURL(url);
        link.removeAttribute("href");
        link.hidden = true;
      }, 2000);
    }, { once: true });
    refresh();
  }

  if (supported) {
    button.addEventListener("click", function () {
      generate().catch(function (error) {
        status.textContent = "Key generation failed: " + error + ". Paste a public key instead.";
        button.disabled = false;
      });
    });
  }
  sources.forEach(function (input) { input.addEventListener("change", refresh); });
  refresh();
})();
