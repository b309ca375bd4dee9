/* ledger report: draws the access chart and the paths graph from the embedded report data with
   plotly.js (inlined above). No network access; everything comes from #report-data. */
(function () {
  "use strict";
  var R = JSON.parse(document.getElementById("report-data").textContent);
  // The intervals come as rows of indices (see report_html._page_data): rebuild the records.
  (function (c) {
    function cited(list) { return list.map(function (p) { var e = c.events[p]; return { position: p, event_type: e[0], occurred_at: e[1], actor: e[2] }; }); }
    R.intervals = c.rows.map(function (r) {
      return { principal: c.principals[r[0]], action: c.actions[r[1]], status: r[2] ? "conditional" : "allowed",
               how: c.how[r[3]], start: r[4], end: r[5], opened_by: cited(r[6]), closed_by: cited(r[7]),
               path: c.paths[r[8]], missing_context: r[9], open_at_end: !!r[10] };
    });
  })(R.compact);
  var COLOURS = {
    "identity policy": "#1565c0", "bucket policy": "#ef6c00", "identity and bucket policy": "#6a1b9a",
    "trust policy": "#8d6e63", "identity and trust policy": "#5d4037",
    "resource policy": "#f9a825", "identity and resource policy": "#9e9d24",
    "role chain": "#2e7d32", "service role": "#00838f", "account root": "#616161", "trust policy (account)": "#ad1457"
  };
  var rowOf = {};
  R.principals.forEach(function (p) { rowOf[p.arn] = p.account + " · " + p.label; });
  var rows = R.principals.map(function (p) { return rowOf[p.arn]; });

  function eventText(list, word) {
    if (!list.length) { return word + ": in force at the window's start"; }
    return list.map(function (e) {
      return word + " by #" + e.position + " " + e.event_type + " at " + e.occurred_at + " (actor " + (e.actor || "?") + ")";
    }).join("<br>");
  }
  function ms(iso) { return Date.parse(iso); }
  // plotly.js reads date strings as UTC wall time without a zone suffix.
  function pd(iso) { return iso.replace("T", " ").replace("Z", ""); }

  function chartTraces(action) {
    var traces = [];
    var mine = R.intervals.filter(function (i) { return i.action === action; });
    R.how.forEach(function (how) {
      ["allowed", "conditional"].forEach(function (status) {
        var items = mine.filter(function (i) { return i.how === how && i.status === status; });
        if (!items.length) { return; }
        traces.push({
          type: "bar", orientation: "h", name: how + (status === "conditional" ? " (conditional)" : ""),
          y: items.map(function (i) { return rowOf[i.principal]; }),
          base: items.map(function (i) { return pd(i.start); }),
          x: items.map(function (i) { return ms(i.end) - ms(i.start); }),
          customdata: items.map(function (i) { return [i.principal, i.start, i.end, i.status, i.how]; }),
          hovertext: items.map(function (i) {
            return "<b>" + i.principal + "</b><br>" + i.action + ": " + i.status + " (" + i.how + ")<br>" +
              i.start + " → " + i.end + "<br>" + i.path + "<br>" + eventText(i.opened_by, "opened") + "<br>" +
              (i.closed_by.length ? eventText(i.closed_by, "closed") : "still so at the window's end");
          }),
          hoverinfo: "text",
          marker: { color: COLOURS[how] || "#333", line: { width: 0 },
                    pattern: status === "conditional" ? { shape: "/", fillmode: "overlay", fgcolor: "#ffffff", size: 8, solidity: 0.45 } : { shape: "" } }
        });
      });
    });
    // The bars' edges: one marker per opening or closing event, hovering names the event.
    var ex = [], ey = [], et = [], ed = [];
    mine.forEach(function (i) {
      if (i.opened_by.length) { ex.push(pd(i.start)); ey.push(rowOf[i.principal]); et.push(eventText(i.opened_by, "opened")); ed.push(["opened", i.principal, i.opened_by[0].position]); }
      if (i.closed_by.length) { ex.push(pd(i.end)); ey.push(rowOf[i.principal]); et.push(eventText(i.closed_by, "closed")); ed.push(["closed", i.principal, i.closed_by[0].position]); }
    });
    traces.push({ type: "scatter", mode: "markers", name: "opening / closing event", x: ex, y: ey, hovertext: et,
                  hoverinfo: "text", customdata: ed,
                  marker: { symbol: "line-ns-open", size: 16, color: "#000", line: { width: 2 } } });
    return traces;
  }

  function drawChart(action) {
    var layout = {
      barmode: "overlay", height: Math.max(260, 70 + 24 * rows.length), margin: { l: 260, r: 20, t: 40, b: 60 },
      xaxis: { type: "date", range: [pd(R.window.from), pd(R.window.to)], title: { text: "valid time (UTC)" }, showgrid: true },
      yaxis: { type: "category", categoryorder: "array", categoryarray: rows.slice().reverse(), range: [-0.5, rows.length - 0.5], automargin: true },
      legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom" }, hovermode: "closest"
    };
    return Plotly.react("access-chart", chartTraces(action), layout, { displaylogo: false, responsive: true });
  }

  var NODE_COLUMN = { user: 0, root: 0, "federated-user": 0, other: 0, service: 1, role: 2, resource: 3 };
  function edgesAt(us, action) {
    var on = {};
    R.graph.samples.forEach(function (s) {
      if (s.at_us > us) { return; }
      s.add.forEach(function (i) { on[i] = true; });
      s.del.forEach(function (i) { delete on[i]; });
    });
    return Object.keys(on).map(Number).sort(function (a, b) { return a - b; }).map(function (i) { return R.graph.edges[i]; })
      .filter(function (e) { return !action || e.for_action === action; });
  }

  function drawGraph(us) {
    var edges = edgesAt(us, select.value);
    var used = {}; used[R.resource] = true;
    edges.forEach(function (e) { used[e.from] = true; used[e.to] = true; });
    var nodes = R.graph.nodes.filter(function (n) { return used[n.id]; });
    var perColumn = {}, pos = {};
    nodes.forEach(function (n) {
      var c = NODE_COLUMN[n.kind] === undefined ? 0 : NODE_COLUMN[n.kind];
      perColumn[c] = (perColumn[c] || 0) + 1; pos[n.id] = [c, perColumn[c]];
    });
    var tallest = Math.max.apply(null, Object.keys(perColumn).map(function (c) { return perColumn[c]; }).concat([1]));
    nodes.forEach(function (n) { var c = pos[n.id][0]; pos[n.id][1] = (pos[n.id][1] - (perColumn[c] + 1) / 2) * (tallest / perColumn[c]); });
    var lx = [], ly = [], mx = [], my = [], mt = [], md = [];
    // Several requests between the same two nodes (PassRole and CreateJob to the service) share one line and label.
    var pairs = {}, order = [];
    edges.forEach(function (e) {
      var k = e.from + "\u0000" + e.to;
      if (!pairs[k]) { pairs[k] = []; order.push(k); }
      pairs[k].push(e);
    });
    order.forEach(function (k) {
      var group = pairs[k], a = pos[group[0].from], b = pos[group[0].to];
      lx.push(a[0], b[0], null); ly.push(a[1], b[1], null);
      mx.push((a[0] + b[0]) / 2); my.push((a[1] + b[1]) / 2);
      mt.push(group.map(function (e) { return e.action + " — " + e.statements; }).join("<br>"));
      md.push(group.map(function (e) { return [e.from, e.to, e.action, e.statements]; }));
    });
    var small = edges.length <= 12;
    var traces = [
      { type: "scatter", mode: "lines", x: lx, y: ly, hoverinfo: "skip", line: { color: "#999", width: 1.5 }, name: "edges" },
      { type: "scatter", mode: small ? "markers+text" : "markers", x: mx, y: my, text: mt, textposition: "top center", textfont: { size: 10 },
        hovertext: mt, hoverinfo: "text", customdata: md, marker: { size: 6, color: "#555", symbol: "triangle-right" }, name: "edge labels" },
      { type: "scatter", mode: "markers+text", x: nodes.map(function (n) { return pos[n.id][0]; }), y: nodes.map(function (n) { return pos[n.id][1]; }),
        text: nodes.map(function (n) { return n.label; }), textposition: "bottom center", hovertext: nodes.map(function (n) { return n.id + " (" + n.kind + ")"; }),
        hoverinfo: "text", customdata: nodes.map(function (n) { return [n.id, n.kind]; }),
        marker: { size: 16, color: nodes.map(function (n) { return { resource: "#c62828", service: "#00838f", role: "#2e7d32" }[n.kind] || "#1565c0"; }) }, name: "nodes" }
    ];
    var layout = { showlegend: false, height: Math.max(300, 60 + 40 * tallest), margin: { l: 20, r: 20, t: 30, b: 20 },
                   xaxis: { visible: false, range: [-0.6, 3.6] }, yaxis: { visible: false }, hovermode: "closest",
                   annotations: ["principals", "services", "roles", "resource"].map(function (t, i) { return { x: i, y: 1.04, yref: "paper", text: t, showarrow: false }; }) };
    return Plotly.react("paths-graph", traces, layout, { displaylogo: false, responsive: true });
  }

  var select = document.getElementById("action-select");
  var when = document.getElementById("graph-time");
  select.addEventListener("change", function () { drawChart(select.value); drawGraph(Number(when.value)); });
  when.addEventListener("change", function () { drawGraph(Number(when.value)); });
  drawChart(select.value).then(function () {
    var gd = document.getElementById("access-chart");
    gd.on("plotly_click", function (ev) {
      if (!ev.event) { return; }
      var xa = gd._fullLayout.xaxis, box = gd.getBoundingClientRect();
      var us = xa.p2l(ev.event.clientX - box.left - gd._fullLayout.margin.l) * 1000;
      var best = R.graph.samples[0];
      R.graph.samples.forEach(function (s) { if (s.at_us <= us) { best = s; } });
      when.value = String(best.at_us); drawGraph(best.at_us);
    });
  });
  drawGraph(Number(when.value));
  window.ledgerReport = { data: R, rows: rows, edgesAt: edgesAt, drawGraph: drawGraph, drawChart: drawChart };
})();
