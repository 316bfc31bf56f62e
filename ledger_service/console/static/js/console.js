// Progressive behaviour only: every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // The language choice applies as soon as it is made (the Switch button stays for keyboard and no-script use).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }

  // Sign-In with Ethereum: a browser wallet (EIP-1193) signs the server's message; pasting a signature works too.
  const sign = document.getElementById("wallet-sign");
  const provider = window.ethereum;
  if (sign && provider && typeof provider.request === "function") {
    sign.hidden = false;
    sign.addEventListener("click", async () => {
      const message = document.getElementById("message").value;
      const field = document.getElementById("signature");
      try {
        const accounts = await provider.request({ method: "eth_requestAccounts" });
        const account = accounts.find((a) => a.toLowerCase() === field.dataset.address.toLowerCase()) || accounts[0];
        const hex = "0x" + Array.from(new TextEncoder().encode(message), (b) => b.toString(16).padStart(2, "0")).join("");
        field.value = await provider.request({ method: "personal_sign", params: [hex, account] });
        field.form.requestSubmit();
      } catch (err) {
        field.setCustomValidity(String(err && err.message ? err.message : err));
        field.reportValidity();
        field.setCustomValidity("");
      }
    });
  }
});
