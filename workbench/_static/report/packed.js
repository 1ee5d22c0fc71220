/* workbench report: the page's large scripts travel gzipped, as base64 text.
 *
 * plotly.js (4.8 MB), the widget manager (2.7 MB) and widget modules weigh
 * about a third of that gzipped. Each sits in a <script type="application/
 * gzip+base64"> element, which the browser never runs; this loader inflates
 * it with the browser's own DecompressionStream and runs it from a blob: URL,
 * so the page still loads nothing from the network. Scripts that need
 * plotly.js (the static figures) are written inert and run once it is in,
 * in page order, and only those stamped with this page's own token. TeX in
 * the markdown is typeset by the vendored KaTeX, as JupyterLab's MathJax
 * would: $...$, $$...$$, \(...\) and \[...\].
 */
(function () {
  "use strict";
  var TOKEN = document.currentScript.dataset.token;

  // base64 of a gzip -> a Response over the inflated bytes (read it with .text() or .arrayBuffer())
  function inflate(base64) {
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser cannot inflate the report's scripts (no DecompressionStream): open it in a browser from 2023 or later");
    }
    var raw = atob(base64), data = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) data[i] = raw.charCodeAt(i);
    return new Response(new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip")));
  }

  async function text(id) {
    var tag = document.getElementById(id);
    return tag ? await inflate(tag.textContent.trim()).text() : null;
  }

  function run(code) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
      script.onload = resolve;
      script.onerror = function () { reject(new Error("a packed script failed to run")); };
      document.head.appendChild(script);
    });
  }

  function ready() {
    return new Promise(function (resolve) {
      if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", resolve);
      else resolve();
    });
  }

  async function runDeferred() {
    await ready();
    var scripts = document.querySelectorAll('script[type="text/x-workbench-deferred"]');
    Array.prototype.forEach.call(scripts, function (inert) {
      if (inert.dataset.token !== TOKEN) return;  // not written by this report
      var live = document.createElement("script");
      live.textContent = inert.textContent;
      inert.parentNode.replaceChild(live, inert);
    });
  }

  var plotly = (async function () {
    var code = await text("workbench-packed-plotly");
    if (code === null) return;
    await run(code);
    await runDeferred();
  })().catch(function (error) {
    console.warn("workbench report: figures could not be drawn", error);
  });

  var MATH = [
    { left: "$$", right: "$$", display: true },
    { left: "\\[", right: "\\]", display: true },
    { left: "$", right: "$", display: false },
    { left: "\\(", right: "\\)", display: false },
  ];

  var typeset = (async function () {
    var css = await text("workbench-packed-katex-css");
    if (css === null) return;
    var style = document.createElement("style");
    style.textContent = css;
    document.head.appendChild(style);
    await run(await text("workbench-packed-katex"));
    await ready();
    Array.prototype.forEach.call(document.querySelectorAll(".jp-MarkdownOutput"), function (cell) {
      window.renderMathInElement(cell, { delimiters: MATH, throwOnError: false, ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code"] });
    });
    document.documentElement.dataset.workbenchMath = "typeset";
  })().catch(function (error) {
    console.warn("workbench report: TeX could not be typeset", error);
  });

  window.workbenchPacked = { inflate: inflate, text: text, run: run, plotly: plotly, typeset: typeset };
})();
