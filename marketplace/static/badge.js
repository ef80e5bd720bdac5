// The live unread badge of the navigation, on every page (docs/messages.md, "The badge on
// every page"). The layout's <script data-source="..."> names a private endpoint answering
// {unread, url, token, poll} for the logged-in session (no-store; the token is never in the
// HTML, since some pages are cached for every member). With a stream URL the script listens to
// the real-time process and asks again for the count on each event; without one, or while the
// stream is down, it asks every `poll` seconds. It only ever writes a number into the elements
// marked data-unread-badge.
(function () {
  "use strict";
  var me = document.currentScript;
  var source = me && me.getAttribute("data-source");
  var badges = document.querySelectorAll("[data-unread-badge]");
  if (!source || !badges.length || !window.fetch) return;
  var poll = 15000, live = false, stopped = false, stream = null, timer = null;
  var busy = false, again = false;
  // A message page runs its own stream (messaging/static/realtime.js): follow its refreshes.
  var pageStream = !!document.getElementById("rt");

  function mark(state) {
    live = state === "live";
    badges.forEach(function (b) { b.setAttribute("data-badge-state", state); });
  }

  function show(n) {
    badges.forEach(function (b) {
      b.textContent = n > 99 ? "99+" : String(n);
      b.hidden = !(n > 0);
    });
  }

  function schedule() {
    clearTimeout(timer);
    if (stopped) return;
    // With the stream up, a slow safety poll; without it, the count every `poll` seconds.
    timer = setTimeout(ask, live ? poll * 8 : poll);
  }

  function listen(settings) {
    if (pageStream || stream || !settings.url || !settings.token || !window.EventSource) return;
    stream = new EventSource(settings.url + "?t=" + encodeURIComponent(settings.token));
    stream.addEventListener("ready", function () { mark("live"); ask(); });  // catch up
    stream.addEventListener("resync", ask);
    stream.onmessage = function (event) {
      var type = "";
      try { type = JSON.parse(event.data).type || ""; } catch (e) { /* ids only, never text */ }
      // One announcement reaches a whole audience at once: spread their requests over 0.5 s.
      var spread = type === "announcement" || type === "withdrawn" ? Math.random() * 500 : 0;
      setTimeout(ask, spread);
    };
    stream.onerror = function () {
      if (live) { mark("polling"); schedule(); }
      // Refused for good (an expired token, say): the next answer brings a fresh token.
      if (stream && stream.readyState === 2) { stream.close(); stream = null; }
    };
  }

  function ask() {
    if (stopped) return;
    if (busy) { again = true; return; }
    busy = true;
    fetch(source, { credentials: "same-origin", cache: "no-store",
                    headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { stopped = true; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (settings) {
        if (!settings) return;
        poll = Math.max(1, Number(settings.poll) || 15) * 1000;
        show(Number(settings.unread) || 0);
        listen(settings);
        document.documentElement.setAttribute("data-badge-checked", String(Date.now()));
      })
      .catch(function () { /* offline: the next poll tries again */ })
      .then(function () {
        busy = false;
        if (stopped && stream) { stream.close(); stream = null; }
        if (again) { again = false; ask(); } else { schedule(); }
      });
  }

  if (pageStream) document.addEventListener("shihui:refreshed", ask);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") ask();
  });
  mark("polling");
  ask();  // at once: a page served from a cache shows this member's own count
})();
