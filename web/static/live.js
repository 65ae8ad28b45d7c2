/* Live page: station state from the SSE stream (/api/kiosk/events on the station's screen and for trainers,
   /api/events with the public state otherwise), polling .../status as fallback;
   camera previews at a low frame rate while a set runs; the kiosk's buttons; a short tone and a
   spoken count for each squat (WebAudio and speechSynthesis, both offline; off when the page's
   data-sound is "off"). States are shown in words (web/member.py LIVE_WORDS). No libraries. */
(function () {
  "use strict";
  var PREVIEW_MS = 500, POLL_MS = 1000;
  /* device/station/machine.py ACTIVE: a set is under way (Cancel and "Stop, it hurts" apply) */
  var ACTIVE = ["positioning", "countdown", "recording", "analysing"];
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var previewsBox = document.getElementById("previews");
  var previewsOn = previewsBox && previewsBox.dataset.enabled === "yes";
  /* the station's screen and trainers get the whole state; anyone else the public one */
  var stateUrl = previewsOn ? "/api/kiosk" : "/api";
  var kiosk = !!document.getElementById("controls");
  var views = ["front", "side"];
  var current = JSON.parse(document.getElementById("initial-state").textContent);
  var words = JSON.parse(document.getElementById("live-words").textContent);
  var me = document.getElementById("live-script");
  var soundOn = !me || me.dataset.sound !== "off";
  var speechLang = (me && me.dataset.lang) || "en-GB";  /* [kiosk] language: the count is spoken in it */
  /* opening hours ([kiosk] opening_hours): the station goes to sleep ("closed") and wakes (its
     button, opening time); the page is made again for the other one: dark or the live view */
  var asleep = current.state === "closed";
  var previewTimer = null, pollTimer = null, lastReps = current.reps || 0, audio = null;

  function $(id) { return document.getElementById(id); }
  function show(el, on) { if (el) { el.hidden = !on; } }
  function text(id, value) { var el = $(id); if (el && el.textContent !== String(value)) { el.textContent = value; } }

  /* the station's own message in the page's language (web/member.py station_message): matched
     against the station's templates, its fields put into the translation; else as it came */
  function say(msg) {
    var table = words.station || [], args = words.station_args || {};
    for (var i = 0; i < table.length; i++) {
      var m = new RegExp(table[i][0]).exec(msg || "");
      if (!m) { continue; }
      var values = {};
      table[i][1].forEach(function (f, j) {
        var v = m[j + 1];
        values[f] = args[v] || (/\.$/.test(v) ? say(v) : v);
      });
      return table[i][2].replace(/\{(\w+)\}/g, function (x, k) { return values[k] || ""; });
    }
    return msg || "";
  }

  function stateWords(state) {
    var w = words.states[state];
    if (w) { return w; }
    state = (state || "").replace(/_/g, " ");
    return state.charAt(0).toUpperCase() + state.slice(1);
  }

  /* one squat counted: a short tone and the number spoken (either may be missing: no sound then) */
  function cue(n) {
    if (!soundOn) { return; }
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx) {
        audio = audio || new Ctx();
        if (audio.state === "suspended" && audio.resume) { audio.resume(); }
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start();
        osc.stop(audio.currentTime + 0.12);
      }
    } catch (e) { /* no audio device: the number on screen is enough */ }
    try {
      if (window.speechSynthesis && window.SpeechSynthesisUtterance) {
        window.speechSynthesis.cancel();
        var said = new SpeechSynthesisUtterance(String(n));
        said.lang = speechLang;
        window.speechSynthesis.speak(said);
      }
    } catch (e) { /* no voice installed */ }
  }

  function render(s) {
    if ((s.state === "closed") !== asleep) {  /* asleep <-> awake: the page is made again */
      asleep = !asleep;
      window.location.reload();
      return;
    }
    current = s;
    var st = $("state");
    if (st) { st.dataset.state = s.state || ""; }
    text("state", stateWords(s.state));
    text("message", s.state === "recording"
      ? (words.recording[s.kind || "standard"] || words.recording.standard) : say(s.message));
    if (s.state === "recording" && (s.reps || 0) > lastReps) { cue(s.reps); }
    lastReps = s.state === "recording" ? (s.reps || 0) : 0;
    var hasCount = s.countdown !== null && s.countdown !== undefined;
    var waiting = s.state === "pain" && hasCount;  /* the wait before Start, not a set's countdown */
    show($("countdown"), hasCount && !waiting);
    if (hasCount) { text("countdown", s.countdown); }
    show($("pain-wait"), waiting);
    text("pain-wait", waiting ? words.pain_wait.replace("{n}", s.countdown) : "");
    show($("reps"), !!s.reps);
    text("rep-count", s.reps || 0);
    var panel = s.panel || {};
    var status = $("led-status");
    if (status) { status.className = "led status-" + (panel.status || "off"); }
    text("led-status-word", words.light[panel.status || "off"] || panel.status);
    var regions = panel.regions || {};
    Object.keys(regions).forEach(function (r) {
      var led = $("led-" + r);
      if (!led) { return; }
      led.className = "led" + (regions[r] ? " on" : "");
      led.querySelector("i").textContent = regions[r] ? "!" : "";
      led.querySelector(".led-word").textContent = ": " + (regions[r] ? words.region_on : words.region_off);
    });
    var running = ACTIVE.indexOf(s.state) >= 0;
    setPreviews(previewsOn && running);
    /* before the set: what the station keeps, and (on its own screen) who is squatting */
    show($("privacy"), s.state === "idle");
    var before = s.state === "idle" || s.state === "positioning";
    show($("identify"), before);
    show($("member-known"), !!s.member);
    show($("member-forget-form"), !!s.member);
    show($("member-ask"), !s.member);
    show($("btn-member"), !s.member);
    text("member-hint", s.member || "");
    if (kiosk) {
      /* after "Stop, it hurts" no Start until the station leaves the pain state (the station
         decides when: the person left the mat or its message time ran out) */
      show($("btn-start"), !running && ["not_running", "shutting_down", "pain"].indexOf(s.state) < 0);
      show($("btn-cancel"), running);
      show($("btn-pain"), running);
      if (s.state === "result" && s.assessment_id && sessionStorage.getItem("ohsa-shown") !== s.assessment_id) {
        sessionStorage.setItem("ohsa-shown", s.assessment_id);
        window.location.href = "/result/" + encodeURIComponent(s.assessment_id) + "?kiosk=1";
      }
    }
  }

  function refreshPreview(view) {
    var img = $("preview-" + view);
    var next = new Image();
    next.onload = function () { img.src = next.src; show(img, true); show($("preview-" + view + "-off"), false); };
    next.onerror = function () { show(img, false); show($("preview-" + view + "-off"), true); };
    next.src = img.dataset.src + "?t=" + Date.now();
  }

  function setPreviews(on) {
    if (on && !previewTimer) {
      previewTimer = setInterval(function () { views.forEach(refreshPreview); }, PREVIEW_MS);
    } else if (!on && previewTimer) {
      clearInterval(previewTimer);
      previewTimer = null;
      views.forEach(function (v) { show($("preview-" + v), false); show($("preview-" + v + "-off"), true); });
    }
  }

  function poll() {
    if (pollTimer) { return; }
    pollTimer = setInterval(function () {
      fetch(stateUrl + "/status", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); }).then(render).catch(function () {});
    }, POLL_MS);
  }

  function listen() {
    if (!window.EventSource) { poll(); return; }
    var source = new EventSource(stateUrl + "/events");
    var failures = 0;
    source.onmessage = function (e) { failures = 0; render(JSON.parse(e.data)); };
    source.onerror = function () {
      /* refused (503: too many streams) closes it for good; a broken one retries by itself */
      failures += 1;
      if (source.readyState === EventSource.CLOSED || failures >= 3) { source.close(); poll(); }
    };
  }

  function press(button) {
    button.disabled = true;
    fetch(button.dataset.action, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: "{}"
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (body.state) { render(body.state); }
    }).catch(function () {}).then(function () { button.disabled = false; });
  }

  /* browsers start audio only after a touch unless the kiosk browser allows autoplay
     (--autoplay-policy=no-user-gesture-required): any touch unlocks it for this page */
  document.addEventListener("pointerdown", function unlock() {
    document.removeEventListener("pointerdown", unlock);
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (soundOn && Ctx) {
      try { audio = audio || new Ctx(); if (audio.resume) { audio.resume(); } } catch (e) { /* no audio */ }
    }
  });

  /* on the station's own screen a long press opens no menu (no way out of the page by touch) */
  if (kiosk) { document.addEventListener("contextmenu", function (e) { e.preventDefault(); }); }

  ["btn-start", "btn-cancel", "btn-pain"].forEach(function (id) {
    var b = $(id);
    if (b) { b.addEventListener("click", function () { press(b); }); }
  });
  if (current.state === "result" && current.assessment_id) {
    sessionStorage.setItem("ohsa-shown", current.assessment_id);  /* already seen: stay live */
  }
  render(current);
  listen();
}());
