// The live queue: server-sent events replace the table; a new distress case raises an alert.
(function () {
  "use strict";
  const table = document.querySelector("table.queue tbody");
  const empty = document.querySelector("p.empty");
  const banner = document.getElementById("alert");
  if (!table || !window.EventSource) { return; }
  let seen = new Set(Array.from(table.querySelectorAll("tr")).map((r) => r.dataset.conversation));
  let first = true;

  function beep() {
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.4);
    } catch (err) { /* no sound allowed before a click: the banner still shows */ }
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function render(items) {
    table.replaceChildren();
    let fresh = false;
    for (const item of items) {
      const row = document.createElement("tr");
      row.className = item.reason;
      row.dataset.conversation = item.conversation_id;
      const reason = document.createElement("td");
      const link = document.createElement("a");
      link.href = "/console/conversations/" + encodeURIComponent(item.conversation_id);
      link.textContent = item.reason;
      reason.appendChild(link);
      row.appendChild(reason);
      cell(row, item.waiting_text + (item.overdue ? " · nobody free, help sent" : ""));
      cell(row, item.channel);
      cell(row, item.language);
      cell(row, item.first_words);
      table.appendChild(row);
      if (!first && item.reason === "distress" && !seen.has(item.conversation_id)) { fresh = true; }
    }
    seen = new Set(items.map((i) => i.conversation_id));
    const overdue = document.getElementById("overdue");
    if (overdue) {
      const count = items.filter((i) => i.overdue).length;
      overdue.querySelector("span").textContent = String(count);
      overdue.hidden = count === 0;
    }
    table.closest("table").hidden = items.length === 0;
    if (empty) { empty.hidden = items.length !== 0; }
    if (fresh) {
      banner.hidden = false;
      document.title = "(!) " + document.title.replace(/^\(!\) /, "");
      beep();
    }
    first = false;
  }

  const events = new EventSource("/console/api/queue/events");
  events.addEventListener("queue", (event) => render(JSON.parse(event.data)));
  if (banner) {
    banner.querySelector("button").addEventListener("click", () => {
      banner.hidden = true;
      document.title = document.title.replace(/^\(!\) /, "");
    });
  }
})();
