// Live numbers: every [data-poll] section fetches its JSON every 2 s and fills [data-key]
// elements (dotted paths; "sales.<id>.x" finds the sale with that id). Charts marked
// [data-refresh=N] reload every N seconds. A section with [data-reload-on-stop] (the server sets
// it only while the job is unfinished) reloads the page once the job has finished (the import
// page then shows the refused rows).
// No framework: the page works without this script.
(function () {
  "use strict";
  var labels = {};
  try { labels = JSON.parse(document.getElementById("status-labels").textContent); } catch (e) {}

  function lookup(data, path) {
    var parts = path.split("."), value = data;
    for (var i = 0; i < parts.length && value != null; i++) {
      var key = parts[i];
      if (Array.isArray(value)) {
        value = value.filter(function (row) { return String(row.id) === key; })[0];
      } else {
        value = value[key];
      }
    }
    return value;
  }

  function show(el, value) {
    var format = el.getAttribute("data-format");
    if (format === "percent") el.textContent = Math.round(value * 100) + "%";
    else if (format === "status") el.textContent = labels[value] || value;
    else if (format === "width") el.setAttribute("width", value);  // an SVG <rect>
    else el.textContent = value;
  }

  function poll(section) {
    var url = section.getAttribute("data-poll");
    var stop = (section.getAttribute("data-stop-when") || "").split("=");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          section.querySelectorAll("[data-key]").forEach(function (el) {
            var value = lookup(data, el.getAttribute("data-key"));
            if (value !== undefined && value !== null) show(el, value);
          });
          var done = stop.length === 2 && stop[1].split(",").indexOf(String(data[stop[0]])) >= 0;
          if (!done) setTimeout(tick, 2000);
          else if (section.hasAttribute("data-reload-on-stop")) window.location.reload();
        })
        .catch(function () { setTimeout(tick, 5000); });
    }
    setTimeout(tick, 2000);
  }

  document.querySelectorAll("[data-poll]").forEach(poll);
  document.querySelectorAll("img[data-refresh]").forEach(function (img) {
    var base = img.getAttribute("src");
    setInterval(function () { img.src = base + "?t=" + Date.now(); },
                1000 * Number(img.getAttribute("data-refresh")));
  });
})();
