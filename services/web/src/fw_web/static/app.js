/* fernwartung web: the little JavaScript the pages use. Everything works without it, only less live:
   - [data-poll]: reload an HTML fragment every few seconds (the invoice); with [data-live] (the
     technician's queue) only when the server says it changed (server-sent events), polling again
     if the browser has no EventSource or the stream is refused;
   - [data-timer-elapsed]: a running session's clock;
   - [data-autofocus]: move focus to an error summary or the ticket so screen readers announce it;
   - [data-download-code]: the invoice link "/rechnung#<code>" carries the download code in the
     fragment (never sent to a server or a log): put it into the POST form and send it. */
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function hms(total) {
    total = Math.max(0, Math.floor(total));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return h + ":" + pad(m) + ":" + pad(s);
  }

  function startTimers() {
    document.querySelectorAll("[data-timer-elapsed]").forEach(function (el) {
      var origin = Date.now() - Number(el.getAttribute("data-timer-elapsed")) * 1000;
      var tick = function () { el.textContent = hms((Date.now() - origin) / 1000); };
      tick();
      window.setInterval(tick, 1000);
    });
  }

  function countText(n) {
    if (n === "" || n === null) { return ""; }
    n = Number(n);
    return n === 0 ? "Keine wartenden Anfragen." : (n === 1 ? "1 wartende Anfrage." : n + " wartende Anfragen.");
  }

  function startPoller(region) {
    var url = region.getAttribute("data-poll");
    var every = Number(region.getAttribute("data-poll-interval")) || 2000;
    var status = document.getElementById(region.getAttribute("data-poll-status") || "");
    var last = region.innerHTML, lastCount = null, timer = null, busy = false;

    function stop() { if (timer) { window.clearInterval(timer); timer = null; } }

    function apply(html) {
      if (html === last) { return; }
      // Keep the keyboard where it was: remember the focused control by its data-key.
      var active = document.activeElement, key = null;
      if (active && region.contains(active)) { key = active.getAttribute("data-key"); }
      region.innerHTML = html;
      last = region.innerHTML;
      if (key) {
        var again = region.querySelector('[data-key="' + key + '"]');
        if (again) { again.focus(); }
      }
      var counted = region.querySelector("[data-count]");
      if (status && counted) {
        var n = counted.getAttribute("data-count");
        if (n !== lastCount) { status.textContent = countText(n); lastCount = n; }
      }
      if (region.querySelector("[data-poll-done]")) { stop(); }
    }

    var pending = false;
    function poll() {
      if (document.hidden) { return; }
      if (busy) { pending = true; return; }  // a change announced while fetching: fetch once more
      busy = true;
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "X-FW-Fragment": "1" } })
        .then(function (resp) {
          return resp.text().then(function (text) {
            if (resp.status === 401) { apply(text); stop(); return; }
            if (resp.ok) { apply(text); }
          });
        })
        .catch(function () { /* offline for a moment: the next round tries again */ })
        .then(function () { busy = false; if (pending) { pending = false; poll(); } });
    }

    function startPolling() {
      if (!timer && !region.querySelector("[data-poll-done]")) { timer = window.setInterval(poll, every); }
    }

    function startLive(url) {
      var source = new window.EventSource(url, { withCredentials: true });
      // each message: the queue changed (the first one: where it stands), so fetch the fragment
      source.addEventListener("queue", function () { poll(); });
      document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
      source.onerror = function () {
        // the browser reconnects by itself; a refused stream (signed out, 401) is closed for good
        if (source.readyState === window.EventSource.CLOSED) { startPolling(); }
      };
    }

    var first = region.querySelector("[data-count]");
    if (first) { lastCount = first.getAttribute("data-count"); }
    var live = region.getAttribute("data-live");
    if (live && window.EventSource) { startLive(live); } else { startPolling(); }
  }

  function takeDownloadCode() {
    var field = document.querySelector("[data-download-code]");
    var code = window.location.hash.slice(1);
    if (!field || !code) { return; }
    field.value = decodeURIComponent(code);
    // drop the code from the address bar and the history before anything else happens
    window.history.replaceState(null, "", window.location.pathname);
    field.form.submit();
  }

  function init() {
    takeDownloadCode();
    startTimers();
    document.querySelectorAll("[data-poll]").forEach(startPoller);
    var focus = document.querySelector("[data-autofocus]");
    if (focus) { focus.focus(); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
