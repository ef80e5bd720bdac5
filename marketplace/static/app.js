// Behaviour shared by every page, kept in a file so the Content-Security-Policy can refuse
// inline scripts and event-handler attributes.
(function () {
  "use strict";

  // <form data-confirm="Question?">, or a submit button with data-confirm (a form whose other
  // buttons need no question): ask before submitting.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) ||
      (event.target.getAttribute && event.target.getAttribute("data-confirm"));
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // <el class="countdown" data-deadline="epoch ms">: a live d hh:mm:ss countdown.
  var dayUnit = document.documentElement.lang.indexOf("zh") === 0 ? " 天 " : "d ";
  document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
    var end = parseInt(el.getAttribute("data-deadline"), 10);
    function pad(n) { return n < 10 ? "0" + n : "" + n; }
    function tick() {
      var s = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
      el.textContent = (d ? d + dayUnit : "") + pad(h) + ":" + pad(m) + ":" + pad(s % 60);
      if (s > 0) setTimeout(tick, 1000);
    }
    tick();
  });

  // <body data-wake-lock>: keep the screen on (counter mode), again after the tab comes back.
  if (document.body && document.body.hasAttribute("data-wake-lock") && navigator.wakeLock) {
    var askAwake = function () {
      navigator.wakeLock.request("screen").catch(function () { /* refused: nothing to do */ });
    };
    askAwake();
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") askAwake();
    });
  }
})();
