// The card page's changing code (docs/members.md, "The card face"): before each step ends, ask
// the server for the next code and its QR picture (no-store JSON; the page never computes a
// code). "Show at the counter" fills the screen with the code on white and keeps the screen on.
(function () {
  "use strict";
  var box = document.getElementById("cardcode");
  if (!box || !window.fetch) return;
  var img = box.querySelector("[data-testid=card-qr]");
  var text = box.querySelector("[data-testid=card-code]");
  var on = document.getElementById("counter-on"), off = document.getElementById("counter-off");
  var timer = null, lock = null;

  function later(ms) { clearTimeout(timer); timer = setTimeout(renew, Math.max(200, ms)); }

  function renew() {
    fetch(box.getAttribute("data-src"), { credentials: "same-origin", cache: "no-store",
                                          headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 409) { box.setAttribute("data-state", "stopped"); return null; }
        return r.ok ? r.json() : undefined;
      })
      .then(function (d) {
        if (d === null) return;
        if (!d) { later(3000); return; }
        img.src = d.qr;
        text.textContent = d.code;
        box.setAttribute("data-step", String(d.step));
        later(d.next_in_ms + 150);  // the server's clock decides the step, not the phone's
      })
      .catch(function () { later(3000); });
  }

  function counter(enter) {
    document.body.classList.toggle("counter-mode", enter);
    on.hidden = enter;
    off.hidden = !enter;
    if (enter) {
      if (box.requestFullscreen) box.requestFullscreen().catch(function () { /* optional */ });
      if (navigator.wakeLock) {
        navigator.wakeLock.request("screen").then(function (l) { lock = l; })
          .catch(function () { /* not granted: the screen may dim */ });
      }
    } else {
      if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen();
      if (lock) { lock.release(); lock = null; }
    }
  }

  on.addEventListener("click", function () { counter(true); });
  off.addEventListener("click", function () { counter(false); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") renew();  // back from another app: a fresh code
  });
  later(Number(box.getAttribute("data-next-in-ms")) + 150);
})();
