// Live alerts: server-sent events from /ui/alerts/live; each event is a rendered <li> (escaped by the server).
(function () {
  "use strict";
  var list = document.getElementById("alerts");
  var status = document.getElementById("live-status");
  var empty = document.getElementById("no-alerts");
  if (!list || !window.EventSource) { return; }
  function setLive(on) {
    status.textContent = on ? status.dataset.live : status.dataset.offline;
    status.className = "status " + (on ? "live" : "offline");
  }
  var source = new EventSource(list.dataset.stream);
  source.onopen = function () { setLive(true); };
  source.onerror = function () { setLive(false); };  // EventSource reconnects by itself
  source.addEventListener("alert", function (event) {
    var id = event.lastEventId;
    if (id && document.getElementById("alert-" + id)) { return; }
    list.insertAdjacentHTML("afterbegin", event.data);
    if (empty) { empty.hidden = true; }
    var item = list.firstElementChild;
    if (item) { item.classList.add("new"); }
  });
})();
