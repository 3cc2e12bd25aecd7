// The tracking page, live: one EventSource on the order's tracking stream; each event is the whole view.
// The courier dot is placed with the same equirectangular projection the server drew the map with.
(function () {
  "use strict";
  var root = document.getElementById("track");
  if (!root || !window.EventSource) return;
  var labels = JSON.parse(document.getElementById("track-labels").textContent);
  var map = document.getElementById("track-map");
  var proj = {
    west: parseFloat(map.dataset.west), north: parseFloat(map.dataset.north),
    kx: parseFloat(map.dataset.kx), ky: parseFloat(map.dataset.ky),
  };
  var size = map.viewBox.baseVal.width;
  var tz = root.dataset.timezone;
  var hhmm = new Intl.DateTimeFormat("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: tz });

  function $(id) { return document.getElementById(id); }
  function when(iso) { return iso ? hhmm.format(new Date(iso)) : "—"; }
  function show(el, on) { if (on) { el.removeAttribute("hidden"); } else { el.setAttribute("hidden", ""); } }

  function placeCourier(position) {
    var dot = $("courier-dot");
    if (!position) { dot.setAttribute("visibility", "hidden"); return; }
    var x = (position.lng - proj.west) * proj.kx;
    var y = (proj.north - position.lat) * proj.ky;
    var off = x < 0 || y < 0 || x > size || y > size;
    x = Math.min(Math.max(x, 0), size);
    y = Math.min(Math.max(y, 0), size);
    dot.setAttribute("cx", x.toFixed(1));
    dot.setAttribute("cy", y.toFixed(1));
    dot.setAttribute("visibility", "visible");
    dot.classList.toggle("off-map", off);
  }

  function render(view) {
    var status = $("track-status");
    status.dataset.stage = view.stage;
    status.textContent = labels[view.stage] || view.stage;
    $("eta").textContent = when(view.eta_at);
    $("due").textContent = when(view.due_at);
    show($("delivered"), !!view.delivered_at);
    $("delivered-at").textContent = when(view.delivered_at);
    show($("risk"), view.at_risk);
    var courier = view.courier;
    show($("courier"), !!courier);
    if (courier) {
      $("courier-name").textContent = courier.first_name;
      $("courier-phone").textContent = courier.phone_masked;
      $("courier-age").textContent = courier.position_age_s === null ? "" :
        "位置 " + courier.position_age_s + " 秒前 · position " + courier.position_age_s + " s ago";
    }
    placeCourier(courier && courier.position);
    var list = $("timeline");
    list.textContent = "";
    view.timeline.forEach(function (step) {
      var li = document.createElement("li");
      li.dataset.state = step.status;
      var time = document.createElement("time");
      time.setAttribute("datetime", step.at);
      time.textContent = when(step.at);
      li.appendChild(time);
      li.appendChild(document.createTextNode(" " + (labels[step.status] || step.status)));
      list.appendChild(li);
    });
    root.dataset.final = view.final ? "true" : "false";
    $("live-note").textContent = view.final ? "订单已结束 The order is complete." : "实时更新中 Updating live.";
  }

  if (root.dataset.final === "true") return;
  var source = new EventSource(root.dataset.stream);
  source.addEventListener("tracking", function (event) {
    var view = JSON.parse(event.data);
    render(view);
    if (view.final) source.close();
  });
  source.addEventListener("end", function () { source.close(); });
})();
