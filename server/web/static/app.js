// authhost web UI: progressive enhancements only. Every flow works without
// this file; it adds local times, audit auto-refresh and a guard against
// double form submission.
(function () {
  'use strict';

  // Show <time datetime> values in the browser's time zone (UTC stays in
  // the title).
  function localizeTimes(root) {
    root.querySelectorAll('time[datetime]').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (isNaN(d.getTime()) || t.dataset.localized) { return; }
      t.title = t.textContent;
      t.textContent = d.toLocaleString();
      t.dataset.localized = '1';
    });
  }

  // Disable a form's submit button once it is sent, so a double click does
  // not sign in twice; re-enable when the page comes back from the cache.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (form.method.toLowerCase() !== 'post') { return; }
    var button = form.querySelector('button[type="submit"]');
    if (button) {
      setTimeout(function () { button.disabled = true; button.setAttribute('aria-busy', 'true'); }, 0);
    }
  });
  window.addEventListener('pageshow', function () {
    document.querySelectorAll('button[aria-busy="true"]').forEach(function (b) {
      b.disabled = false;
      b.removeAttribute('aria-busy');
    });
  });

  // Audit log auto-refresh: fetch this same page and swap in its results.
  function setupAutoRefresh() {
    var results = document.getElementById('audit-results');
    var toggle = document.getElementById('autorefresh');
    if (!results || !toggle) { return; }
    var label = toggle.closest('[data-js-only]');
    if (label) { label.hidden = false; }
    var key = 'authhost.audit.autorefresh';
    var timer = null;

    function refresh() {
      if (document.hidden) { return; }
      fetch(results.dataset.src, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
        .then(function (r) {
          if (!r.ok) { throw new Error('status ' + r.status); }
          return r.text();
        })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, 'text/html');
          var fresh = doc.getElementById('audit-results');
          if (!fresh) { return; }
          results.replaceChildren.apply(results, Array.prototype.map.call(fresh.childNodes, function (n) {
            return document.importNode(n, true);
          }));
          localizeTimes(results);
          var updated = document.getElementById('audit-updated');
          if (updated) { updated.textContent = '(updated ' + new Date().toLocaleTimeString() + ')'; }
        })
        .catch(function () {
          var updated = document.getElementById('audit-updated');
          if (updated) { updated.textContent = '(refresh failed; retrying)'; }
        });
    }

    function apply() {
      clearInterval(timer);
      timer = null;
      if (toggle.checked) {
        refresh();
        timer = setInterval(refresh, 5000);
      }
      try { sessionStorage.setItem(key, toggle.checked ? '1' : '0'); } catch (e) { /* storage off */ }
    }

    toggle.addEventListener('change', apply);
    try { toggle.checked = sessionStorage.getItem(key) === '1'; } catch (e) { /* storage off */ }
    if (toggle.checked) { apply(); }
  }

  function init() {
    localizeTimes(document);
    setupAutoRefresh();
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
