/*
 * The template form's live preview: while the text, event, audience, provider, smart
 * replacement or quiet hours change, post the form's current values (300 ms after the last
 * keystroke) to the live-preview endpoint and show what it renders: the text as sent, encoding, parts,
 * cost, each gateway's verdict, and what a save would refuse (an unknown variable, say).
 * Shipped with the app; no library, no CDN.
 */
(function () {
  "use strict";

  var FIELDS = ["body", "event", "audience", "provider", "smart_replace", "quiet_hours", "urgent"];
  var DELAY = 300;

  function start() {
    var box = document.getElementById("hsms-live-preview");
    if (!box) {
      return;
    }
    var form = box.closest("form");
    if (!form) {
      return;
    }
    var timer = null;
    var sent = 0;

    function value(name) {
      var field = form.elements.namedItem(name);
      if (!field) {
        return "";
      }
      if (field.type === "checkbox") {
        return field.checked ? "on" : "";
      }
      return field.value;
    }

    function show(data) {
      var errors = data.errors || {};
      var names = Object.keys(errors);
      box.innerHTML = data.html || "";  // built by the server with everything escaped
      if (names.length) {
        var list = document.createElement("ul");
        list.className = "errorlist hsms-live-errors";
        names.forEach(function (name) {
          var item = document.createElement("li");
          item.textContent = name + ": " + errors[name];
          list.appendChild(item);
        });
        box.insertBefore(list, box.firstChild);
      }
    }

    function refresh() {
      var body = new FormData();
      FIELDS.forEach(function (name) {
        body.append(name, value(name));
      });
      var token = form.elements.namedItem("csrfmiddlewaretoken");
      var mine = ++sent;
      box.setAttribute("aria-busy", "true");
      fetch(box.getAttribute("data-url"), {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: {"X-CSRFToken": token ? token.value : ""}
      })
        .then(function (response) {
          return response.json();
        })
        .then(function (data) {
          if (mine === sent) {  // an older answer arriving late is dropped
            show(data);
          }
        })
        .catch(function () {
          if (mine === sent) {
            show({html: "", errors: {preview: "could not be refreshed (is the server up?)"}});
          }
        })
        .finally(function () {
          if (mine === sent) {
            box.removeAttribute("aria-busy");
          }
        });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DELAY);
    }

    FIELDS.forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field) {
        field.addEventListener("input", later);
        field.addEventListener("change", later);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
