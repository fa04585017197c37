// Camera scanning where the browser can detect QR codes itself (BarcodeDetector); everywhere
// else the upload field is the way in (on a phone it offers the camera too). No JS is required.
(function () {
  var scanner = document.getElementById("scanner");
  var form = document.getElementById("verify-form");
  if (!scanner || !form) return;
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  scanner.hidden = false;
  var start = document.getElementById("scan-start");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var stream = null;

  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.hidden = true;
  }

  start.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      status.textContent = "Point the camera at the QR code.";
      return video.play().then(function loop() {
        if (!stream) return;
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            stop();
            status.textContent = "Found a code. Verifying…";
            document.getElementById("credential").value = codes[0].rawValue;
            form.submit();
          } else {
            setTimeout(loop, 250);
          }
        }).catch(function () { setTimeout(loop, 500); });
      });
    }).catch(function () {
      stop();
      status.textContent = "The camera is not available. Upload a photo of the QR code instead.";
    });
  });
  window.addEventListener("pagehide", stop);
})();
