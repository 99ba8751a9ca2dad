// The console's glue: draws graphs (cytoscape.js) and plots (uPlot) from data-* attributes,
// on page load and whenever htmx swaps in new content. No outside requests, no build step.
(function () {
  "use strict";
  var graphs = (window.aiopsGraphs = {});
  var palette = ["#2f6fde", "#d63b2f", "#e69a17", "#2e8b57", "#8a6fbf", "#3b9fb0"];

  var graphStyle = [
    { selector: "node", style: {
      "label": "data(label)", "font-size": 11, "text-valign": "bottom", "text-margin-y": 4,
      "background-color": "#d5dae1", "width": 26, "height": 26, "color": "#1d2430",
      "border-width": 2, "border-color": "#ffffff" } },
    { selector: "node[kind = 'host']", style: { "shape": "round-rectangle" } },
    { selector: "node[kind = 'database']", style: { "shape": "barrel" } },
    { selector: "node.affected", style: { "background-color": "#f6d37a" } },
    { selector: "node.neighbour", style: { "background-color": "#d5dae1" } },
    { selector: "node.candidate", style: { "border-color": "#e69a17", "border-width": 3 } },
    { selector: "node.sev-info", style: { "background-color": "#3b82c4" } },
    { selector: "node.sev-warning", style: { "background-color": "#e69a17" } },
    { selector: "node.sev-critical", style: { "background-color": "#d63b2f" } },
    { selector: "node.root", style: { "border-color": "#d63b2f", "border-width": 5,
      "width": 36, "height": 36, "font-weight": "bold" } },
    { selector: "node.root.affected", style: { "background-color": "#f5a39b" } },
    { selector: "node.root.sev-critical", style: { "border-color": "#5c1410" } },
    { selector: "edge", style: { "width": 1.5, "line-color": "#aab3bf",
      "target-arrow-color": "#aab3bf", "target-arrow-shape": "triangle",
      "curve-style": "bezier", "arrow-scale": 0.8 } }
  ];

  function layoutFor(cy) {
    return cy.edges().length ? { name: "breadthfirst", directed: true, spacingFactor: 1.1,
      padding: 16 } : { name: "grid", padding: 16 };
  }

  function drawGraph(el, elements) {
    if (typeof cytoscape === "undefined") return null;
    var cy = cytoscape({ container: el, elements: elements, style: graphStyle,
      minZoom: 0.2, maxZoom: 1.5 });
    cy.layout(layoutFor(cy)).run();
    cy.on("tap", "node", function (evt) {
      var d = evt.target.data();
      window.location.href = d.incident ? "/ui/incidents/" + encodeURIComponent(d.incident)
        : "/ui/incidents?window=all&service=" + encodeURIComponent(d.id);
    });
    graphs[el.id] = cy;
    return cy;
  }

  function refreshGraph(el) {
    fetch(el.dataset.graphSrc, { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        var cy = graphs[el.id];
        var ids = body.elements.map(function (e) { return e.data.id; }).sort().join("\n");
        if (!cy || cy.scratch("_ids") !== ids) {
          if (cy) cy.destroy();
          cy = drawGraph(el, body.elements);
          if (cy) cy.scratch("_ids", ids);
        } else {
          body.elements.forEach(function (e) {
            var node = cy.getElementById(e.data.id);
            node.classes(e.classes || "");
            if (e.data.incident !== undefined) node.data("incident", e.data.incident);
          });
        }
        el.dataset.loaded = "true";
      });
  }

  function drawPlot(el) {
    if (typeof uPlot === "undefined") return;
    var spec = JSON.parse(el.dataset.plot);
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    var stepped = spec.step && uPlot.paths && uPlot.paths.stepped ?
      uPlot.paths.stepped({ align: 1 }) : undefined;
    var series = [{}].concat(spec.series.map(function (s, i) {
      var band = /^expected/.test(s.label);
      return { label: s.label, stroke: band ? "#9aa3ae" : palette[i % palette.length],
        dash: band ? [4, 4] : undefined, width: band ? 1 : 2, paths: stepped,
        points: { show: spec.x.length < 40 }, spanGaps: false };
    }));
    var width = Math.max(280, el.clientWidth || 400);
    var plot = new uPlot({ width: width, height: 170, series: series,
      scales: { x: { time: true } }, legend: { live: false } }, data, el);
    el.dataset.drawn = "true";
    return plot;
  }

  function init(root) {
    root.querySelectorAll("[data-graph]").forEach(function (el) {
      if (!graphs[el.id]) drawGraph(el, JSON.parse(el.dataset.graph));
    });
    root.querySelectorAll("[data-graph-src]").forEach(function (el) {
      if (el.dataset.bound) return;
      el.dataset.bound = "true";
      refreshGraph(el);
      setInterval(function () { refreshGraph(el); }, Number(el.dataset.refresh || 5000));
    });
    root.querySelectorAll("[data-plot]").forEach(function (el) {
      if (!el.dataset.drawn) drawPlot(el);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (evt) { init(evt.target); });
})();
