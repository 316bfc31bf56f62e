// Signing the market's prepared transactions with a browser wallet (EIP-1193 `eth_signTransaction`), when one is
// injected; without one the member pastes each signed transaction. The service relays them in order and checks
// signer, chain, contract and role again.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("wallet-sign-tx");
  const provider = window.ethereum;
  if (!button || !provider || typeof provider.request !== "function") return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const status = document.getElementById("wallet-status");
    status.hidden = true;
    try {
      await provider.request({ method: "eth_requestAccounts" });
      for (const source of document.querySelectorAll("textarea.unsigned")) {
        const tx = JSON.parse(source.value);
        document.getElementById(source.dataset.signed).value =
          await provider.request({ method: "eth_signTransaction", params: [tx] });
      }
      button.form.requestSubmit();
    } catch (err) {
      status.textContent = `${button.dataset.failed} ${err && err.message ? err.message : err}`;
      status.hidden = false;
    }
  });
});
