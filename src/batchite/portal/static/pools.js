// Pools: the node heatmap is one tab stop whose cells the arrow keys (and Home, End) move between,
// and the focused cell keeps the focus when the live stream redraws the heatmap. Without this
// script every cell is a link of its own in the tab order (and "Skip the nodes" passes them).
(function () {
  "use strict";
  var current = null; // the href of the cell holding the tab stop
  var hadFocus = false;

  function cellsOf(root) { return root.querySelectorAll(".heatmap a"); }

  function rove(root) {
    var cells = cellsOf(root), chosen = null;
    for (var i = 0; i < cells.length; i++) {
      if (current !== null && cells[i].getAttribute("href") === current) chosen = cells[i];
      cells[i].tabIndex = -1;
    }
    chosen = chosen || cells[0] || null;
    if (chosen) chosen.tabIndex = 0;
    return chosen;
  }

  function isHeatmap(element) { return element && element.id === "heatmap"; }

  document.addEventListener("DOMContentLoaded", function () {
    var heatmap = document.getElementById("heatmap");
    if (heatmap) rove(heatmap);
  });
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (!isHeatmap(event.target)) return;
    var active = document.activeElement;
    hadFocus = !!(active && active.closest && active.closest(".heatmap"));
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    if (!isHeatmap(event.target)) return;
    var cell = rove(event.target);
    if (hadFocus && cell) cell.focus({ preventScroll: true });
    hadFocus = false;
  });
  document.addEventListener("focusin", function (event) {
    var cell = event.target.closest && event.target.closest(".heatmap a");
    if (!cell) return;
    current = cell.getAttribute("href");
    var before = cell.parentNode.querySelector('a[tabindex="0"]');
    if (before && before !== cell) before.tabIndex = -1;
    cell.tabIndex = 0;
  });
  document.addEventListener("keydown", function (event) {
    var cell = event.target.closest && event.target.closest(".heatmap a");
    if (!cell || event.altKey || event.ctrlKey || event.metaKey) return;
    var grid = cell.parentNode;
    var cells = Array.prototype.slice.call(grid.querySelectorAll("a"));
    var columns = getComputedStyle(grid).gridTemplateColumns.split(" ").length || 1;
    var at = cells.indexOf(cell), to = at;
    switch (event.key) {
      case "ArrowRight": to = at + 1; break;
      case "ArrowLeft": to = at - 1; break;
      case "ArrowDown": to = at + columns; break;
      case "ArrowUp": to = at - columns; break;
      case "Home": to = 0; break;
      case "End": to = cells.length - 1; break;
      default: return;
    }
    event.preventDefault();
    if (to >= 0 && to < cells.length) cells[to].focus();
  });
})();
