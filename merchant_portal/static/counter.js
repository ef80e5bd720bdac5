// Counter page: scan the member's QR with the phone camera where the browser has the built-in
// BarcodeDetector (Chrome on Android); elsewhere the clerk types the code. A scan fills the code
// and submits the look-up form; the clerk then taps "Confirm redemption".
(function () {
  "use strict";
  var button = document.getElementById("scan");
  var video = document.getElementById("camera");
  var input = document.getElementById("code");
  var form = document.getElementById("lookup");
  if (!button || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  button.hidden = false;
  var stream = null;

  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.hidden = true;
  }

  button.addEventListener("click", function () {
    if (stream) { stop(); return; }
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        return video.play();
      })
      .then(function scan() {
        if (!stream) return;
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            input.value = codes[0].rawValue.trim();
            stop();
            form.submit();
          } else {
            requestAnimationFrame(scan);
          }
        }).catch(function () { requestAnimationFrame(scan); });
      })
      .catch(function () { stop(); button.hidden = true; input.focus(); });
  });
})();
