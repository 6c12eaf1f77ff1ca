/* Refreshes a group send's progress page from its JSON until every message is final.
 * Every 2 s while messages are on their way, every 10 s while only delivery reports are
 * awaited; stops at "final". Without JavaScript the page's <noscript> meta refresh does it. */
(function () {
  "use strict";
  var root = document.getElementById("group-send-progress");
  if (!root || !window.fetch) {
    return;
  }
  var url = root.getAttribute("data-url");

  function set(name, value) {
    var node = root.querySelector('[data-field="' + name + '"]');
    if (node) {
      node.textContent = value;
    }
  }

  function update(data) {
    Object.keys(data.counts).forEach(function (status) {
      var cell = root.querySelector('[data-status="' + status + '"]');
      if (cell) {
        cell.textContent = data.counts[status];
      }
    });
    set("total", data.total);
    set("parts", data.parts);
    set("cost", data.cost);
    set("phase", data.phase_label);
    root.setAttribute("data-phase", data.phase);
    var refreshing = root.querySelector('[data-field="refreshing"]');
    if (refreshing) {
      refreshing.hidden = data.final;
    }
  }

  function schedule(phase) {
    window.setTimeout(poll, phase === "sending" ? 2000 : 10000);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        update(data);
        if (!data.final) {
          schedule(data.phase);
        }
      })
      .catch(function () {
        schedule("error"); /* a dropped request: try again, more slowly */
      });
  }

  if (root.getAttribute("data-phase") !== "final") {
    schedule(root.getAttribute("data-phase"));
  }
})();
