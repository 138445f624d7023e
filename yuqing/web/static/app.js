// The alert inbox asks for alerts first seen since the newest it shows and puts them on top.
// Rows are built with textContent only: alert titles carry post text (hostile input).
(function () {
  "use strict";
  var inbox = document.getElementById("inbox");
  if (!inbox) { return; }
  var seconds = parseInt(document.body.getAttribute("data-poll"), 10) || 15;
  var latest = inbox.getAttribute("data-latest");
  var STATUS = { "new": "待签收", "acknowledged": "已签收", "handling": "处置中" };

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text || "";
    tr.appendChild(td);
    return td;
  }

  function row(a) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-id", a.id);
    tr.className = "fresh";
    var lv = cell(tr, "");
    var badge = document.createElement("span");
    badge.className = "lv";
    badge.style.background = a.colour;
    badge.textContent = a.level;
    lv.appendChild(badge);
    var td = cell(tr, "");
    var link = document.createElement("a");
    link.href = "/alerts/" + encodeURIComponent(a.id);
    link.textContent = a.title;
    td.appendChild(link);
    var sub = document.createElement("div");
    sub.className = "sub";
    sub.textContent = a.summary;
    td.appendChild(sub);
    cell(tr, a.agency_name);
    cell(tr, STATUS[a.status] || a.status, "st-" + a.status);
    cell(tr, (a.first_seen || "").slice(5, 16).replace("T", " "));
    cell(tr, "");
    return tr;
  }

  function poll() {
    fetch("/alerts/poll?after=" + encodeURIComponent(latest), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.alerts.length) { return; }
        var body = inbox.querySelector("tbody");
        var empty = body.querySelector("tr.empty");
        if (empty) { empty.remove(); }
        data.alerts.slice().reverse().forEach(function (a) {
          if (!body.querySelector('tr[data-id="' + CSS.escape(a.id) + '"]')) { body.insertBefore(row(a), body.firstChild); }
        });
        latest = data.latest;
        var note = document.getElementById("new-alerts");
        if (note) { note.hidden = false; }
        var total = document.getElementById("alert-total");
        if (total) { total.textContent = String((parseInt(total.textContent, 10) || 0) + data.alerts.length); }
      })
      .catch(function () { /* the next poll tries again */ });
  }
  window.setInterval(poll, seconds * 1000);
})();
