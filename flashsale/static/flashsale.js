// Countdowns synchronised to server time, and the snap-up button (calls the JSON API).
(function () {
  "use strict";
  var root = document.getElementById("sale") || document.getElementById("clock");
  var offset = root ? Number(root.dataset.serverMs) - Date.now() : 0; // server minus local clock
  function now() { return Date.now() + offset; }
  function fmt(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0");
  }
  function tick() {
    document.querySelectorAll(".countdown[data-starts-ms]").forEach(function (el) {
      var left = Number(el.dataset.startsMs) - now();
      el.textContent = left > 0 ? fmt(left) : "";
    });
    var sale = document.getElementById("sale");
    if (sale) {
      var left = Number(sale.dataset.startsMs) - now();
      document.getElementById("countdown").textContent =
        left > 0 ? sale.dataset.msgStartsIn + " " + fmt(left) : "";
    }
  }
  tick();
  setInterval(tick, 250);

  var sale = document.getElementById("sale");
  if (!sale) return;
  var button = document.getElementById("snap");
  var result = document.getElementById("result");
  var pendingKey = null; // kept across network failures so a retry cannot claim twice

  function newKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function show(text, kind) {
    result.className = "result result-" + kind;
    result.textContent = text;
  }
  function showVoucher(voucher) {
    show(sale.dataset.msgSuccess, "success");
    var code = document.createElement("p");
    code.className = "code";
    code.dataset.testid = "voucher-code";
    code.textContent = voucher.code;
    var img = document.createElement("img");
    img.alt = voucher.code;
    img.dataset.testid = "voucher-qr";
    img.src = sale.dataset.qrBase.replace("CODE", encodeURIComponent(voucher.code));
    img.width = 200;
    result.appendChild(code);
    result.appendChild(img);
  }
  var messages = {
    sold_out: "msgSoldOut", limit_reached: "msgLimit", not_started: "msgNotStarted",
    ended: "msgEnded", card_inactive: "msgCard", not_eligible: "msgRegion",
    rate_limited: "msgSlow"
  };
  button.addEventListener("click", function () {
    if (button.disabled) return;
    button.disabled = true;
    pendingKey = pendingKey || newKey();
    fetch("/api/v1/flashsales/" + sale.dataset.campaignId + "/claims", {
      method: "POST",
      headers: {
        "Authorization": "Bearer " + sale.dataset.token,
        "Idempotency-Key": pendingKey,
        "Accept": "application/json"
      }
    }).then(function (resp) {
      pendingKey = null; // an answer arrived: the next press is a new request
      return resp.json().then(function (body) {
        if (resp.status === 201) {
          showVoucher(body.voucher);
        } else {
          var key = messages[body.code];
          show(key ? sale.dataset[key] : sale.dataset.msgError, body.code || "error");
        }
      });
    }).catch(function () {
      show(sale.dataset.msgError, "error");
    }).finally(function () {
      button.disabled = false;
    });
  });
})();
