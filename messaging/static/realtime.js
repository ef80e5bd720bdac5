// Live updates on message pages (docs/messages.md, "Real time"). The page carries
// <div id="rt" data-rt-url data-rt-token data-rt-poll>; the elements marked data-rt-swap are
// fetched again (the page's own URL, same session) when an event says something changed, when
// the event stream (re)connects, and every data-rt-poll seconds while it is down. Events carry
// ids only; the fresh HTML comes from the server, escaped there, and is parsed inertly.
(function () {
  "use strict";
  var el = document.getElementById("rt");
  if (!el || !window.fetch || !window.DOMParser) return;
  var poll = Math.max(1, Number(el.dataset.rtPoll) || 15) * 1000;
  var live = false, busy = false, again = false, timer = null;

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Shihui-Refresh": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-rt-swap]").forEach(function (old) {
          var fresh = doc.querySelector('[data-rt-swap="' + old.dataset.rtSwap + '"]');
          if (fresh && fresh.innerHTML !== old.innerHTML) {
            old.replaceWith(document.adoptNode(fresh));
          }
        });
        el.dataset.rtRefreshed = String(Date.now());
        document.dispatchEvent(new Event("shihui:refreshed"));  // the navigation badge follows
      })
      .catch(function () { /* offline: the next poll tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function schedule() {
    clearTimeout(timer);
    // With the stream up, a slow safety poll; without it, the page catches up every poll.
    timer = setTimeout(function () { refresh(); schedule(); }, live ? poll * 8 : poll);
  }

  function state(now) { live = now === "live"; el.dataset.rtState = now; schedule(); }

  state("polling");
  if (el.dataset.rtUrl && window.EventSource) {
    var source = new EventSource(el.dataset.rtUrl + "?t=" + encodeURIComponent(el.dataset.rtToken));
    source.addEventListener("ready", function () { state("live"); refresh(); });
    source.addEventListener("resync", refresh);
    source.onmessage = refresh;
    source.onerror = function () { if (live) state("polling"); };
  }
})();
