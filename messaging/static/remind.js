// "Remind me" on a flash-sale page: PUT /api/v1/messages/reminders/sale/<id> with the page's
// bearer token (the sale page carries one for claims). Idempotent: pressing twice is harmless.
(function () {
  "use strict";
  var button = document.getElementById("remind");
  var sale = document.getElementById("sale");
  var state = document.getElementById("remind-state");
  if (!button || !sale || !window.fetch) return;
  button.addEventListener("click", function () {
    button.disabled = true;
    fetch(button.dataset.url, {
      method: "PUT",
      credentials: "same-origin",
      headers: { Authorization: "Bearer " + sale.dataset.token },
    })
      .then(function (r) {
        state.textContent = r.ok ? button.dataset.msgDone : button.dataset.msgError;
        button.hidden = r.ok;
        button.disabled = false;
      })
      .catch(function () {
        state.textContent = button.dataset.msgError;
        button.disabled = false;
      });
  });
})();
