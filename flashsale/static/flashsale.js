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
      el.textContent = left > 0 ? (el.dataset.label ? el.dataset.label + " " : "") + fmt(left) : "";
    });
    var sale = document.getElementById("sale");
    if (sale) {
      var left = Number(sale.dataset.startsMs) - now();
      document.getElementById("countdown").textContent =
        left > 0 ? sale.dataset.msgStartsIn + " " + fmt(left) : "";
      var snap = document.getElementById("snap");
      // Inactive until the sale opens (by the server's clock); a press in flight keeps it off.
      if (snap && !snap.dataset.busy) snap.disabled = left > 0;
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
  var wonKey = "shihui.won." + sale.dataset.campaignId;
  function remember(code) {
    try { sessionStorage.setItem(wonKey, code); } catch (e) { /* private mode: no memory */ }
  }
  function remembered() {
    try { return sessionStorage.getItem(wonKey); } catch (e) { return null; }
  }
  function vouchersLink(code) {
    // The voucher in 券包 when the code is known, else 券包 itself.
    var a = document.createElement("a");
    a.href = code ? sale.dataset.vouchersUrl.replace("CODE", encodeURIComponent(code))
                  : sale.dataset.vouchersUrl.replace("/CODE", "");
    a.className = "btn";
    a.dataset.testid = "to-vouchers";
    a.textContent = sale.dataset.msgToVouchers;
    var p = document.createElement("p");
    p.appendChild(a);
    result.appendChild(p);
  }
  function showCode(code) {
    var p = document.createElement("p");
    p.className = "code";
    p.dataset.testid = "voucher-code";
    p.textContent = code;
    var img = document.createElement("img");
    img.alt = code;
    img.dataset.testid = "voucher-qr";
    img.src = sale.dataset.qrBase.replace("CODE", encodeURIComponent(code));
    img.width = 200;
    img.height = 200;
    result.appendChild(p);
    result.appendChild(img);
  }
  function showVoucher(voucher) {
    show(sale.dataset.msgSuccess, "success");
    remember(voucher.code);
    showCode(voucher.code);
    vouchersLink(voucher.code);
  }
  function showOwned() {
    show(sale.dataset.msgLimit, "limit_reached");
    var code = remembered();
    if (code) showCode(code);
    vouchersLink(code);
  }
  // A member who already holds every ticket allowed (won on this phone or another): say so,
  // with the way to the voucher, instead of offering the button again.
  if (sale.dataset.mode !== "lottery" &&
      Number(sale.dataset.owned) >= Math.max(1, Number(sale.dataset.limit) || 1)) {
    button.hidden = true;
    showOwned();
  }
  var messages = {
    sold_out: "msgSoldOut", limit_reached: "msgLimit", not_started: "msgNotStarted",
    ended: "msgEnded", card_inactive: "msgCard", not_eligible: "msgRegion",
    rate_limited: "msgSlow", pass_required: "msgPassRequired", pass_invalid: "msgPassRequired",
    pass_expired: "msgPassExpired", quota_exceeded: "msgQuota", no_show_ban: "msgBan"
  };
  var queuePass = null; // the waiting room's pass, once admitted (queue-mode sales)
  button.addEventListener("click", function () {
    if (button.disabled) return;
    button.disabled = true;
    button.dataset.busy = "1";
    pendingKey = pendingKey || newKey();
    var headers = {
      "Authorization": "Bearer " + sale.dataset.token,
      "Idempotency-Key": pendingKey,
      "Accept": "application/json"
    };
    if (queuePass) headers["Queue-Pass"] = queuePass;
    fetch("/api/v1/flashsales/" + sale.dataset.campaignId + "/claims", {
      method: "POST",
      headers: headers
    }).then(function (resp) {
      pendingKey = null; // an answer arrived: the next press is a new request
      return resp.json().then(function (body) {
        if (resp.status === 201) {
          showVoucher(body.voucher);
        } else if (body.code === "limit_reached") {
          showOwned();
        } else {
          var key = messages[body.code];
          var text = key ? sale.dataset[key] : sale.dataset.msgError;
          if (body.code === "no_show_ban" && body.until) {  // why and until when
            text += " " + new Date(body.until).toLocaleString();
          }
          show(text, body.code || "error");
        }
      });
    }).catch(function () {
      show(sale.dataset.msgError, "error");
    }).finally(function () {
      delete button.dataset.busy;
      button.disabled = Number(sale.dataset.startsMs) > now();
      refreshLeft();
    });
  });

  // The stock left, from the same micro-cached poll the app uses, every few seconds while shown.
  var leftEl = document.getElementById("left");
  function refreshLeft() {
    if (!leftEl || document.hidden) return;
    fetch("/api/v1/flashsales/" + sale.dataset.campaignId, {
      headers: { "Authorization": "Bearer " + sale.dataset.token, "Accept": "application/json" }
    }).then(function (resp) {
      return resp.ok ? resp.json() : null;
    }).then(function (body) {
      if (body && typeof body.remaining === "number") leftEl.textContent = body.remaining;
    }).catch(function () { /* the next poll tries again */ });
  }
  if (leftEl) setInterval(refreshLeft, Number(sale.dataset.pollMs) || 3000);

  // Lottery sales: register, then see the ticket and, after the draw, the outcome.
  var lotteryEl = document.getElementById("lottery");
  if (lotteryEl) {
    var entries = "/api/v1/flashsales/" + sale.dataset.campaignId + "/entries";
    var registerButton = document.getElementById("register");
    var confirmButton = document.getElementById("confirm-win");
    var deadlineEl = document.getElementById("lottery-deadline");
    var showEntry = function (entry) {
      registerButton.hidden = true;
      document.getElementById("lottery-ticket").textContent = entry.ticket;
      var key = {
        registered: "msgRegistered", won: "msgWon", waiting: "msgWaiting",
        excluded: "msgExcluded", passed: "msgPassed"
      }[entry.state];
      document.getElementById("lottery-state").textContent = lotteryEl.dataset[key] || entry.state;
      // A sale that asks winners to confirm: the deadline, and the button until confirmed.
      var asked = entry.state === "won" && entry.confirm_by;
      confirmButton.hidden = !asked || Boolean(entry.confirmed_at);
      deadlineEl.hidden = !asked;
      if (asked) {
        deadlineEl.textContent = entry.confirmed_at ? lotteryEl.dataset.msgConfirmed
          : lotteryEl.dataset.msgConfirmBy.replace("{time}", new Date(entry.confirm_by).toLocaleString());
      }
    };
    var authHeaders = { "Authorization": "Bearer " + sale.dataset.token, "Accept": "application/json" };
    fetch(entries + "/me", { headers: authHeaders }).then(function (resp) {
      return resp.json().then(function (body) {
        if (resp.status === 200) showEntry(body); else registerButton.hidden = false;
      });
    });
    confirmButton.addEventListener("click", function () {
      confirmButton.disabled = true;
      fetch(entries + "/me/confirm", { method: "POST", headers: authHeaders }).then(function (resp) {
        return resp.json().then(function (body) {
          if (resp.status === 200) showEntry(body);
          else document.getElementById("lottery-state").textContent = body.detail || sale.dataset.msgError;
        });
      }).finally(function () { confirmButton.disabled = false; });
    });
    registerButton.addEventListener("click", function () {
      registerButton.disabled = true;
      fetch(entries, { method: "POST", headers: authHeaders }).then(function (resp) {
        return resp.json().then(function (body) {
          if (resp.status === 200 || resp.status === 201) showEntry(body);
          else document.getElementById("lottery-state").textContent = body.detail || sale.dataset.msgError;
        });
      }).finally(function () { registerButton.disabled = false; });
    });
  }

  // The waiting room (queue-mode sales): join, then poll the member's status as often as the
  // server says; the claim button appears by itself once the member is admitted.
  var roomEl = document.getElementById("room");
  if (!roomEl) return;
  var base = "/api/v1/flashsales/" + sale.dataset.campaignId + "/queue";
  var joinButton = document.getElementById("join");
  var stateEl = document.getElementById("room-state");
  var waitEl = document.getElementById("room-wait");
  var progress = document.getElementById("room-progress");
  var timer = null, firstAhead = null, waitUntil = null, passUntil = null;
  var say = {
    not_joined: "msgNotJoined", admitted: "msgAdmitted", claimed: "msgClaimed",
    expired: "msgExpired", sold_out: "msgSoldOut", closed: "msgClosed"
  };
  var placeTicket = null; // sent back on every poll once the server gave one (cheaper polls)
  function call(method, url) {
    var headers = { "Authorization": "Bearer " + sale.dataset.token, "Accept": "application/json" };
    if (placeTicket) headers["Queue-Place"] = placeTicket;
    return fetch(url, {
      method: method,
      headers: headers
    }).then(function (resp) { return resp.json(); }).then(function (body) {
      if (body.place_ticket) placeTicket = body.place_ticket;
      return body;
    });
  }
  function render(body) {
    roomEl.dataset.state = body.state;
    joinButton.hidden = body.state !== "not_joined";
    button.hidden = body.state !== "admitted";
    queuePass = body.state === "admitted" ? body.pass : null;
    offset = body.server_time_ms - Date.now();
    passUntil = body.pass_expires_at_ms;
    var text;
    if (body.state === "waiting") {
      text = body.place ? roomEl.dataset.msgWaiting : roomEl.dataset.msgDrawnAtStart;
    } else {
      text = roomEl.dataset[say[body.state]] || body.state;
    }
    stateEl.textContent = text;
    document.getElementById("room-place").textContent = body.place || "–";
    document.getElementById("room-ahead").textContent =
      body.ahead === null || body.ahead === undefined ? "–" : body.ahead;
    if (body.place) {
      if (firstAhead === null || body.ahead > firstAhead) firstAhead = Math.max(body.ahead, 1);
      progress.value = body.state === "waiting" ?
        Math.round(100 * (1 - body.ahead / firstAhead)) : 100;
    }
    waitUntil = body.estimated_wait_seconds === null ? null :
      now() + body.estimated_wait_seconds * 1000;
    if (body.likely_sold_out) stateEl.textContent += " " + roomEl.dataset.msgLikelySoldOut;
    countdown();
  }
  function countdown() {
    var state = roomEl.dataset.state;
    if (state === "admitted" && passUntil) {
      waitEl.textContent = fmt(passUntil - now());
    } else if (state === "waiting" && waitUntil !== null) {
      waitEl.textContent = roomEl.dataset.msgWait + " " + fmt(waitUntil - now());
    } else {
      waitEl.textContent = "";
    }
  }
  setInterval(countdown, 250);
  function poll() {
    clearTimeout(timer);
    call("GET", base + "/me").then(function (body) {
      if (!body.state) return;
      render(body);
      if (body.poll_after_seconds > 0 && body.state !== "not_joined") {
        timer = setTimeout(poll, body.poll_after_seconds * 1000);
      }
    }).catch(function () { timer = setTimeout(poll, 3000); });
  }
  joinButton.addEventListener("click", function () {
    joinButton.disabled = true;
    call("POST", base).then(function (body) {
      if (body.state) {
        render(body);
        timer = setTimeout(poll, body.poll_after_seconds * 1000);
      } else {
        stateEl.textContent = body.detail || sale.dataset.msgError;
      }
    }).finally(function () { joinButton.disabled = false; });
  });
  poll();
})();
