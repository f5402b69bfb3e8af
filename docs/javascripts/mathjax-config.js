// MathJax 3 configuration, served from this site (docs/javascripts/vendor/mathjax).
// Material's recipe, extended so MathJax also typesets notebook Markdown cells.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown",
  },
};

// MathJax typesets the first page itself at startup. Re-typesetting it here (document$ fires
// for the first page too, after MathJax has started) cleared the CSS of every glyph already
// drawn, and the math showed zero-wide, i.e. invisible (seen in Chromium by tests/site/browser).
// So only pages loaded later (navigation.instant) are typeset here.
let mathjaxFirstPage = true;
document$.subscribe(() => {
  if (mathjaxFirstPage) { mathjaxFirstPage = false; return; }
  if (!window.MathJax || !MathJax.startup || !MathJax.startup.output) return;
  MathJax.startup.output.clearCache();
  MathJax.typesetClear();
  MathJax.texReset();
  MathJax.typesetPromise();
});
