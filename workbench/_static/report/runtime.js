/* workbench report runtime: renders a notebook's saved widget state offline.
 *
 * The vendored widget manager (@jupyter-widgets/html-manager) and anywidget's
 * front end are AMD modules. Instead of require.js they are registered in the
 * small module table below, which is handed to the vendored code as a local
 * `define` (see report.py). There is no global `define` or `require`, so the
 * UMD code elsewhere on the page (plotly.js, widgets' ES modules) never takes
 * the page for an AMD environment, and no loader can fall back to a CDN: a
 * widget whose module is not bundled shows a short note instead.
 *
 * Widget ES modules (anywidget's `_esm` trait; plotly's FigureWidget carries
 * all of plotly.js there) are stored once in a packed JSON script element (packed.js), loaded
 * once, and handed to the models that share them as one blob: URL.
 */
(function () {
  "use strict";
  var ESM_REF = "workbench-esm:";
  var definitions = Object.create(null);
  var modules = Object.create(null);

  function define(name, deps, factory) {
    if (typeof name !== "string") {
      throw new Error("workbench report: anonymous AMD modules are not supported");
    }
    definitions[name] = { deps: deps, factory: factory };
  }

  function load(name) {
    if (name in modules) {
      return modules[name];
    }
    var definition = definitions[name];
    if (!definition) {
      throw new Error("module " + name + " is not bundled in this report");
    }
    var module = { id: name, uri: "", exports: {}, config: function () { return {}; } };
    var args = definition.deps.map(function (dep) {
      if (dep === "module") return module;
      if (dep === "exports") return module.exports;
      if (dep === "require") return load;
      return load(dep);
    });
    var value = typeof definition.factory === "function" ? definition.factory.apply(null, args) : definition.factory;
    modules[name] = value === undefined ? module.exports : value;
    return modules[name];
  }

  function note(area, text) {
    var box = document.createElement("pre");
    box.className = "workbench-widget-note";
    box.textContent = text;
    area.appendChild(box);
  }

  // Each distinct module becomes one blob: URL, imported (evaluated) once
  // here, before any model exists: the models that share it then import a
  // module that is already loaded (anywidget gives a model 2 s to load its
  // module; evaluating plotly.js once per figure missed that on a busy CPU).
  async function restoreModules(state) {
    var packed = await window.workbenchPacked.text("workbench-widget-esm");
    if (packed === null) return;
    var urls = await Promise.all(JSON.parse(packed).map(async function (source) {
      var url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      try {
        await import(url);
      } catch (error) {
        console.warn("workbench report: a widget module failed to load", error);
      }
      return url;
    }));
    Object.keys(state.state).forEach(function (id) {
      var traits = state.state[id].state || {};
      if (typeof traits._esm === "string" && traits._esm.indexOf(ESM_REF) === 0) {
        traits._esm = urls[Number(traits._esm.slice(ESM_REF.length))];
      }
    });
  }

  // Buffers the report stored gzipped (report.widget_state.GZIP_BUFFER) go back to plain base64,
  // the encoding the widget manager reads.
  async function inflateBuffers(state) {
    var pending = [];
    Object.keys(state.state).forEach(function (id) {
      (state.state[id].buffers || []).forEach(function (buffer) {
        if (buffer.encoding !== "workbench-gzip-base64") return;
        pending.push((async function () {
          var bytes = new Uint8Array(await window.workbenchPacked.inflate(buffer.data).arrayBuffer()), text = "";
          for (var i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
          buffer.data = btoa(text);
          buffer.encoding = "base64";
        })());
      });
    });
    await Promise.all(pending);
  }

  async function render() {
    var stateTag = document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
    if (!stateTag) return;
    var state = JSON.parse(stateTag.textContent);
    await inflateBuffers(state);
    await restoreModules(state);
    var HTMLManager = load("@jupyter-widgets/html-manager").HTMLManager;
    var manager = new HTMLManager({
      loader: function (name) {
        return new Promise(function (resolve) { resolve(load(name)); });
      },
    });
    var models = await manager.set_state(state);
    var byId = new Map(models.map(function (model) { return [model.model_id, model]; }));
    var views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
    await Promise.all(Array.prototype.map.call(views, async function (tag) {
      var area = document.createElement("div");
      area.className = "widget-subarea";
      tag.parentElement.insertBefore(area, tag);
      var model = byId.get(JSON.parse(tag.textContent).model_id);
      if (!model) {
        note(area, "(this widget's state was not saved with the notebook)");
        return;
      }
      await manager.display_view(manager.create_view(model), area);
    }));
  }

  window.workbenchReport = {
    define: define,
    render: function () {
      return render().catch(function (error) {
        console.warn("workbench report: widgets could not be rendered", error);
      });
    },
  };
})();
