// A figure wider than the screen (on a phone) scrolls sideways in its box (extra.css); mark it
// `figure--scrolls`, so that the hint under it shows ("scroll sideways ..."). Re-checked when a
// picture loads, when the window changes size, and on every page Material loads.
(() => {
  const mark = () => {
    for (const box of document.querySelectorAll(".figure")) {
      box.classList.toggle("figure--scrolls", box.scrollWidth > box.clientWidth + 1);
    }
  };
  const watch = () => {
    mark();
    for (const img of document.querySelectorAll(".figure img")) {
      if (!img.complete) img.addEventListener("load", mark, { once: true });
    }
  };
  window.addEventListener("resize", mark);
  if (window.document$) document$.subscribe(watch);
  else document.addEventListener("DOMContentLoaded", watch);
})();
