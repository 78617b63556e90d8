// Demo chat for the web channel: POST /api/web/messages, poll GET for caseworker replies.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("send");
  var input = document.getElementById("text");
  var key = "rota-segura-user";
  var userId = localStorage.getItem(key);
  if (!userId) {
    userId = "web-" + (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
    localStorage.setItem(key, userId);
  }
  var lastId = 0;
  var shown = {};

  function add(text, who, buttons) {
    var div = document.createElement("div");
    div.className = "msg " + who;
    if (who === "caseworker") {
      var label = document.createElement("span");
      label.className = "who";
      label.textContent = "Caseworker";
      div.appendChild(label);
    }
    div.appendChild(document.createTextNode(text));
    if (buttons && buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      buttons.forEach(function (b) {
        var btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.title;
        btn.addEventListener("click", function () { send({ payload: b.payload }, b.title); });
        row.appendChild(btn);
      });
      div.appendChild(row);
    }
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
  }

  function status(text) {
    var p = document.createElement("p");
    p.className = "status";
    p.textContent = text;
    log.appendChild(p);
  }

  function showReply(r, who) {
    if (r.id && shown[r.id]) { return; }
    if (r.id) { shown[r.id] = true; lastId = Math.max(lastId, r.id); }
    add(r.text, who, r.buttons);
  }

  function send(body, echo) {
    body.user_id = userId;
    add(echo, "person");
    fetch("/api/web/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().then(function (data) { return { ok: res.ok, data: data }; });
    }).then(function (r) {
      if (!r.ok) { status(r.data.error || "Something went wrong. Please try again."); return; }
      document.documentElement.lang = r.data.language;
      r.data.replies.forEach(function (reply) { showReply(reply, "bot"); });
    }).catch(function () {
      status("No connection. Your message may not have arrived; please try again.");
    });
  }

  function poll() {
    fetch("/api/web/messages?user_id=" + encodeURIComponent(userId) + "&after=" + lastId)
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.messages.forEach(function (m) { showReply(m, m.author === "caseworker" ? "caseworker" : "bot"); });
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 3000); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send({ text: text }, text);
  });

  document.getElementById("exit").addEventListener("click", function () {
    localStorage.removeItem(key);
    log.innerHTML = "";
    window.location.replace("https://www.google.com/search?q=weather");
  });

  setTimeout(poll, 3000);
})();
