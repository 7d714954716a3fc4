/* The counter ("Verify redemption code"): the code arrives typed, from a handheld scanner
 * (it types the code and Enter: the form's default button, "Look up"), or from the device
 * camera reading the customer's QR code. The camera uses the browser's BarcodeDetector when
 * it reads QR codes, else the vendored jsQR; any failure falls back to typing, with a message.
 */
(function () {
  "use strict";

  var jsQRUrl = document.currentScript && document.currentScript.getAttribute("data-jsqr");
  var form = document.getElementById("lookup-form");
  var field = document.getElementById("id_code");
  var lookupButton = document.getElementById("lookup-button");
  var scanButton = document.getElementById("scan-button");
  var stopButton = document.getElementById("scan-stop");
  var video = document.getElementById("camera-preview");
  var message = document.getElementById("camera-message");
  if (!form || !field) {
    return;
  }

  // Ready for the next customer: the field focused, any code in it selected, so a scan replaces it.
  field.focus();
  field.select();

  if (!scanButton || !video) {
    return;
  }

  var stream = null;
  var detector = null;
  var canvas = null;
  var reading = false;
  var FRAME_MS = 100;

  function say(text, kind) {
    message.textContent = text;
    message.className = "camera-message " + (kind || "info");
    message.hidden = !text;
  }

  function stopCamera() {
    reading = false;
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
    }
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    stopButton.hidden = true;
    scanButton.hidden = false;
  }

  function typeInstead(reason) {
    stopCamera();
    say(reason + " Type the code or use the scanner.", "error");
    field.focus();
  }

  function found(text) {
    stopCamera();
    field.value = String(text).trim();
    say("Code read: looking it up…", "info");
    if (form.requestSubmit) {
      form.requestSubmit(lookupButton);
    } else {
      lookupButton.click();
    }
  }

  function decodeWithJsQR() {
    var width = video.videoWidth;
    var height = video.videoHeight;
    if (!width || !height) {
      return null;
    }
    canvas = canvas || document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    var context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0, width, height);
    var image = context.getImageData(0, 0, width, height);
    var code = window.jsQR(image.data, width, height, { inversionAttempts: "attemptBoth" });
    return code && code.data ? code.data : null;
  }

  function readFrame() {
    if (!reading) {
      return;
    }
    var next = function () { window.setTimeout(readFrame, FRAME_MS); };
    if (video.readyState < 2) {
      next();
      return;
    }
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes.length && codes[0].rawValue) {
          found(codes[0].rawValue);
        } else {
          next();
        }
      }, next);
      return;
    }
    var text = null;
    try {
      text = decodeWithJsQR();
    } catch (error) {
      text = null;
    }
    if (text) {
      found(text);
    } else {
      next();
    }
  }

  function qrDetector() {
    if (!("BarcodeDetector" in window)) {
      return Promise.resolve(null);
    }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      return formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    }, function () { return null; });
  }

  // jsQR (250 kB) is fetched only when the camera starts in a browser without a QR BarcodeDetector.
  function loadJsQR() {
    if (typeof window.jsQR === "function" || !jsQRUrl) {
      return Promise.resolve();
    }
    return new Promise(function (resolve) {
      var script = document.createElement("script");
      script.src = jsQRUrl;
      script.onload = resolve;
      script.onerror = resolve;
      document.head.appendChild(script);
    });
  }

  function refusal(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      return "Camera permission was refused.";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
      return "No camera was found on this device.";
    }
    if (name === "NotReadableError" || name === "TrackStartError") {
      return "The camera is in use by another application.";
    }
    return "The camera could not start" + (name ? " (" + name + ")." : ".");
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      typeInstead("This browser cannot use the camera on this page (it needs HTTPS).");
      return;
    }
    say("Starting the camera…", "info");
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        return qrDetector();
      })
      .then(function (qr) {
        detector = qr;
        return detector ? null : loadJsQR();
      })
      .then(function () {
        if (!detector && typeof window.jsQR !== "function") {
          typeInstead("This browser cannot read QR codes.");
          return;
        }
        video.srcObject = stream;
        video.hidden = false;
        scanButton.hidden = true;
        stopButton.hidden = false;
        reading = true;
        return video.play().then(function () {
          say("Point the camera at the customer's QR code.", "info");
          readFrame();
        });
      })
      .catch(function (error) {
        typeInstead(refusal(error));
      });
  }

  scanButton.hidden = false;
  scanButton.addEventListener("click", startCamera);
  stopButton.addEventListener("click", function () {
    stopCamera();
    say("", "info");
    field.focus();
  });
})();
