// Keyboard access to the boxes that scroll sideways (WCAG 2.1.1; axe's rule
// scrollable-region-focusable). Material makes its code blocks focusable when they overflow;
// this does the same for the other scroll boxes of the site: wide tables (Material wraps them
// in .md-typeset__scrollwrap at run time), figures on a phone (.figure, from src/primer_site/figures.py),
// long display equations (div.arithmatex, typeset by MathJax after load) and notebook outputs.
// A box gets tabindex="0" while its content is wider than it is, and loses it when it fits
// again (a tab stop that scrolls nothing is noise); extra.css draws its focus ring. Checked by
// tests/site/browser/test_accessibility.py.
(() => {
  const SCROLL_BOXES = [
    ".md-typeset__scrollwrap",
    ".md-typeset .figure",
    ".md-typeset div.arithmatex",
    ".jupyter-wrapper .jp-RenderedText pre",
    ".jupyter-wrapper .highlight-ipynb pre",
  ].join(", ");
  const MARK = "data-a11y-scroll"; // set on the boxes this script made focusable

  const update = box => {
    const overflows = box.scrollWidth > box.clientWidth + 1;
    if (overflows && !box.hasAttribute("tabindex")) {
      box.setAttribute("tabindex", "0");
      box.setAttribute(MARK, "");
    } else if (!overflows && box.hasAttribute(MARK)) {
      box.removeAttribute("tabindex");
      box.removeAttribute(MARK);
    }
  };

  const observer = new ResizeObserver(entries => entries.forEach(e => update(e.target)));
  const seen = new WeakSet();
  const scan = () => {
    for (const box of document.querySelectorAll(SCROLL_BOXES)) {
      update(box);
      if (!seen.has(box)) {
        seen.add(box);
        observer.observe(box);
        // a box does not resize when only its content grows (an equation being typeset)
        for (const child of box.children) observer.observe(child);
      }
    }
  };

  const start = () => {
    scan();
    // MathJax typesets after load: look again once it is done.
    const mathjax = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
    if (mathjax) mathjax.then(scan);
  };
  // Material's document$ fires once its components (table wrappers among them) are mounted,
  // and again after each instant navigation.
  if (window.document$) window.document$.subscribe(start);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  window.addEventListener("load", scan);
})();
