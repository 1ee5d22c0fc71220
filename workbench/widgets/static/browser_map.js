// The Explorer's map when the browser owns the interaction (renderer="browser").
//
// Everything the controls need is in the model as binary buffers: every
// computed (projection, layer) map as float32 x,y pairs, every computed colour
// option as int32 codes or float32 values with its palette, the ids and hover
// texts as NUL-separated UTF-8. So the layer slider, the projection and colour
// menus, the legend search, the hover/click panel and the lasso work with no
// kernel (a report, a handout). What only Python can compute (a projection or
// colour not computed yet) is asked of the kernel; when none answers the ping
// sent on render, those choices are greyed with "needs a running kernel".
// Drawn on a 2-D canvas: no library, a few kB, the same file for every map.
//
// Maps talk to each other in the page, kernel or not: maps with the same
// `link_group` share the selection and the hovered row, by id (linked
// explorers, rows they lack are ignored); maps with the same `control_group`
// (the panes of one grid) also share projection, colour and legend search.

const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
const DIMMED = "#e0e0e0";
const GREY = "#9e9e9e";
const NEEDS_KERNEL = "needs a running kernel";  // browser_map.NEEDS_KERNEL
const NUMERIC_BINS = 64;

function bytesOf(value) {
  // a buffer trait arrives as a DataView (live or restored); copy to an aligned ArrayBuffer
  if (!value) return null;
  if (value instanceof ArrayBuffer) return value;
  return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
}

function strings(value) {
  const bytes = bytesOf(value);
  return bytes ? new TextDecoder().decode(bytes).split("\u0000") : [];
}

function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function rgbOf(css) {
  // "#rrggbb" or "rgb(r,g,b)", the two forms the palettes and the scale produce
  return css[0] === "#" ? hexToRgb(css) : css.slice(css.indexOf("(") + 1, -1).split(",").map(Number);
}

function pixelWord(css, alpha) {
  // the colour at this opacity over the white page, as one RGBA word of an ImageData (little-endian)
  const [r, g, b] = rgbOf(css).map((c) => Math.round(255 - alpha * (255 - c)));
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

function viridis(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const a = hexToRgb(VIRIDIS[i]), b = hexToRgb(VIRIDIS[i + 1]), f = x - i;
  return "rgb(" + a.map((c, k) => Math.round(c + (b[k] - c) * f)).join(",") + ")";
}

function audioType(bytes) {
  // the clip's container from its first bytes: clips travel as they were read (WAV, OGG, FLAC or MP3)
  const head = new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength)), text = String.fromCharCode(...head);
  if (text === "RIFF") return "audio/wav";
  if (text === "OggS") return "audio/ogg";
  if (text === "fLaC") return "audio/flac";
  if (text.startsWith("ID3") || (head[0] === 0xff && (head[1] & 0xe0) === 0xe0)) return "audio/mpeg";
  return "";
}

function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (parent) parent.appendChild(node);
  return node;
}

function inside(polygon, x, y) {
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

// one bus for every map of the page (each widget may load this file as its own module)
const BUS = (globalThis.__workbenchMapBus = globalThis.__workbenchMapBus || new EventTarget());
// a grid sends its rows' pictures and sounds with its first pane only: the others look them up here, by control group
const SHARED_MEDIA = (globalThis.__workbenchMapMedia = globalThis.__workbenchMapMedia || new Map());
const SHARED_CONTROLS = ["method", "color", "search"];

function render({ model, el }) {
  const state = { kernel: false, zoom: 1, panX: 0, panY: 0, how: "hovered", lasso: null, screen: null, grid: null,
                  shown: -1, rowMedia: new Map() };
  const root = element("div", "wb-map", el);
  const controls = element("div", "wb-map-controls", root);
  const layerBox = element("label", "wb-map-layer", controls);
  layerBox.append("layer ");
  const slider = element("input", "", layerBox);
  slider.type = "range";
  slider.step = "1";
  const layerName = element("span", "wb-map-layer-name", layerBox);
  const methodMenu = element("select", "wb-map-method", controls);
  const colorMenu = element("select", "wb-map-color", controls);
  const search = element("input", "wb-map-search", controls);
  search.placeholder = "search categories";
  const body = element("div", "wb-map-body", root);
  const canvas = element("canvas", "wb-map-canvas", body);
  const side = element("div", "wb-map-side", body);
  const legend = element("div", "wb-map-legend", side);
  const panel = element("div", "wb-map-panel", side);
  panel.innerHTML = '<div class="wb-panel-hint">hover or click a point</div>';
  const status = element("div", "wb-map-status", root);
  const context = canvas.getContext("2d");

  const n = () => model.get("n");
  const ids = () => (state.ids = state.ids || strings(model.get("ids")));
  const texts = () => (state.texts = state.texts || strings(model.get("texts")));
  const key = () => model.get("method") + "/" + model.get("layer");
  const me = {};  // this view, so it does not hear its own messages

  function tell(kind, detail) {
    const group = model.get(kind === "control" ? "control_group" : "link_group");
    if (group) BUS.dispatchEvent(new CustomEvent("wb-map", { detail: { ...detail, kind, group, from: me } }));
  }

  function rowsOf(list) {
    if (!state.index) state.index = new Map(ids().map((id, row) => [id, row]));
    return list.map((id) => state.index.get(id)).filter((row) => row !== undefined);
  }

  function hear(event) {
    const message = event.detail;
    if (message.from === me) return;
    if (message.kind === "control") {
      if (message.group !== model.get("control_group") || model.get(message.name) === message.value) return;
      model.set(message.name, message.value);
    } else if (message.group !== model.get("link_group")) {
      return;
    } else if (message.kind === "select") {
      model.set("selected", new DataView(new Int32Array(rowsOf(message.ids)).buffer));
    } else if (message.kind === "hover") {
      const rows = rowsOf([message.id]);
      state.how = "linked";
      model.set("hovered", rows.length ? rows[0] : -1);
    }
    model.save_changes();
  }
  BUS.addEventListener("wb-map", hear);
  if (model.get("control_group") && Object.keys(model.get("media") || {}).length) SHARED_MEDIA.set(model.get("control_group"), model);

  // What a draw derives from the model (typed arrays, screen positions, colour bins, the pixels) is
  // kept while its inputs stay the same objects: a colour change then skips the projection, a lasso
  // stroke redraws the kept pixels, and a million points are not copied again on every draw.
  const memo = new Map();
  function kept(name, inputs, compute) {
    const hit = memo.get(name);
    if (hit && hit.inputs.length === inputs.length && hit.inputs.every((value, i) => value === inputs[i])) return hit.value;
    const value = compute();
    memo.set(name, { inputs, value });
    return value;
  }

  function coords() {
    const found = model.get("coords")[key()];
    return found ? kept("xy", [found], () => new Float32Array(bytesOf(found))) : null;
  }

  function colorValues(name, layer) {
    const option = model.get("colors")[name];
    return option ? option.values[String(layer)] || option.values["*"] || null : null;
  }

  function colorOf(name, layer) {
    const option = model.get("colors")[name], values = colorValues(name, layer);
    if (!values) return null;
    const data = kept("color", [values], () => {
      const bytes = bytesOf(values);
      return option.kind === "categorical" ? new Int32Array(bytes) : new Float32Array(bytes);
    });
    return { ...option, data };
  }

  function anchors() {
    const bytes = bytesOf(model.get("anchors"));
    return bytes && bytes.byteLength ? new Int32Array(bytes) : new Int32Array(0);
  }

  function selected() {
    const bytes = bytesOf(model.get("selected"));
    return bytes && bytes.byteLength ? new Int32Array(bytes) : null;
  }

  function selectedCount() {
    // how many rows are selected, or null for none, without copying them
    const value = model.get("selected"), bytes = value ? value.byteLength : 0;
    return bytes ? bytes / 4 : null;
  }

  function matching(color) {
    const query = model.get("search").trim().toLowerCase();
    if (!query || !color || color.kind !== "categorical") return null;
    return new Set(color.categories.map((c, i) => (c.toLowerCase().includes(query) ? i : -1)).filter((i) => i >= 0));
  }

  // --- controls -----------------------------------------------------------
  function option(menu, value, label, available) {
    const entry = element("option", "", menu);
    entry.value = value;
    entry.textContent = label;
    entry.disabled = !available && !state.kernel;
    if (entry.disabled) entry.title = NEEDS_KERNEL;
  }

  function syncControls() {
    const layers = model.get("layers");
    slider.min = "0";
    slider.max = String(layers.length - 1);
    slider.value = String(model.get("layer"));
    layerBox.style.display = layers.length > 1 ? "" : "none";
    layerName.textContent = layers[model.get("layer")];
    const computed = model.get("coords");
    methodMenu.replaceChildren();
    for (const [value, label] of model.get("methods")) {
      option(methodMenu, value, label, (value + "/" + model.get("layer")) in computed);
    }
    methodMenu.value = model.get("method");
    colorMenu.replaceChildren();
    for (const name of model.get("color_names")) {
      option(colorMenu, name, name, colorValues(name, model.get("layer")) !== null);
    }
    colorMenu.value = model.get("color");
    const color = model.get("colors")[model.get("color")];
    search.style.display = color && color.kind === "categorical" ? "" : "none";
    if (search.value !== model.get("search")) search.value = model.get("search");
  }

  function ask(name, value) {
    model.set(name, value);
    model.save_changes();
    if (SHARED_CONTROLS.includes(name)) tell("control", { name, value });
  }

  // a layer whose map the page holds is shown while the slider moves; one it lacks is asked of the
  // kernel only where the slider is let go (not every layer passed on the way)
  const held = (layer) => (model.get("method") + "/" + layer) in model.get("coords");
  slider.addEventListener("input", () => {
    if (held(slider.value)) ask("layer", Number(slider.value));
    else layerName.textContent = model.get("layers")[Number(slider.value)];
  });
  slider.addEventListener("change", () => {
    if (Number(slider.value) !== model.get("layer")) ask("layer", Number(slider.value));
  });
  methodMenu.addEventListener("change", () => ask("method", methodMenu.value));
  colorMenu.addEventListener("change", () => ask("color", colorMenu.value));
  search.addEventListener("input", () => ask("search", search.value));

  // --- legend and panel ---------------------------------------------------
  function drawLegend(color) {
    legend.replaceChildren();
    if (!color) {
      legend.textContent = model.get("color") + ": " + NEEDS_KERNEL;
      return;
    }
    element("div", "wb-legend-title", legend).textContent = model.get("color");
    if (color.kind === "categorical") {
      const highlight = matching(color);
      const items = element("div", "wb-legend-items", legend);
      color.categories.forEach((category, i) => {
        if (highlight && !highlight.has(i)) return;
        const item = element("div", "wb-legend-item", items);
        element("span", "wb-swatch", item).style.background = color.palette[i];
        item.append(category + " ");
        element("span", "wb-count", item).textContent = "(" + color.counts[i] + ")";
      });
    } else if (color.kind === "numeric") {
      const bar = element("div", "wb-legend-bar", legend);
      bar.style.background = "linear-gradient(to right," + VIRIDIS.join(",") + ")";
      element("div", "wb-legend-range", legend).textContent = color.vmin.toPrecision(3) + " … " + color.vmax.toPrecision(3);
    }
  }

  function mediaOf() {
    const own = model.get("media") || {};
    if (Object.keys(own).length) return own;
    const holder = SHARED_MEDIA.get(model.get("control_group"));
    return holder ? holder.get("media") || {} : {};
  }

  function showRow(row, how) {
    state.shown = row;
    state.shownHow = how;
    panel.replaceChildren();
    if (row < 0) {
      panel.innerHTML = '<div class="wb-panel-hint">hover or click a point</div>';
      return;
    }
    const head = element("div", "wb-panel-head", panel);
    element("b", "", head).textContent = ids()[row];
    element("span", "wb-panel-how", head).textContent = anchors().includes(row) ? how + " · anchor" : how;
    const text = texts()[row];
    if (text) element("div", "wb-panel-text", panel).textContent = text;
    const media = mediaOf();
    for (const kind of ["image", "audio"]) {
      const found = (media[kind] && media[kind][String(row)]) || (state.rowMedia.get(row) || {})[kind];
      if (!found) continue;
      const node = element(kind === "image" ? "img" : "audio", "wb-panel-" + kind, panel);
      const bytes = bytesOf(found);
      node.src = URL.createObjectURL(new Blob([bytes], { type: kind === "image" ? "image/png" : audioType(bytes) }));
      if (kind === "audio") node.controls = true;
    }
  }

  // --- the map ------------------------------------------------------------
  function bounds(xy) {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < xy.length; i += 2) {
      const x = xy[i], y = xy[i + 1];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    return [x0, x1, y0, y1];
  }

  function project(xy, width, height) {
    // equal units on both axes, centred, zoomed about the pan point
    const [x0, x1, y0, y1] = bounds(xy);
    const pad = 8, scale = Math.min((width - 2 * pad) / (x1 - x0 || 1), (height - 2 * pad) / (y1 - y0 || 1)) * state.zoom;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, screen = new Float32Array(xy.length);
    for (let i = 0; i < xy.length; i += 2) {
      screen[i] = width / 2 + (xy[i] - cx) * scale + state.panX;
      screen[i + 1] = height / 2 - (xy[i + 1] - cy) * scale + state.panY;
    }
    return screen;
  }

  function bins(color, count) {
    // a colour bin per point (categories, or steps of the numeric scale) and the fill of each bin
    const bin = new Uint16Array(count);
    if (!color || color.kind === "constant") return { bin, fills: [color ? color.palette[0] || "#1f77b4" : GREY] };
    if (color.kind === "categorical") {
      const highlight = matching(color), fills = color.palette.map((c, i) => (highlight && !highlight.has(i) ? DIMMED : c));
      fills.push(GREY);
      for (let i = 0; i < count; i++) bin[i] = color.data[i] < 0 ? fills.length - 1 : color.data[i];
      return { bin, fills };
    }
    const fills = Array.from({ length: NUMERIC_BINS }, (_, b) => viridis(b / (NUMERIC_BINS - 1)));
    fills.push(GREY);
    const span = color.vmax - color.vmin || 1;
    for (let i = 0; i < count; i++) {
      const v = color.data[i];
      bin[i] = Number.isFinite(v) ? Math.max(0, Math.min(NUMERIC_BINS - 1, Math.round(((v - color.vmin) / span) * (NUMERIC_BINS - 1)))) : NUMERIC_BINS;
    }
    return { bin, fills };
  }

  function pixelsOf(screen, count, bin, fills, chosen, size, ratio) {
    // Points are written straight into the canvas's pixels, one pass over the rows: a million
    // squares drawn with fillRect took over a second, as words of an ImageData a tenth of it.
    const image = context.createImageData(canvas.width, canvas.height), pixels = new Uint32Array(image.data.buffer);
    const W = canvas.width, H = canvas.height, square = Math.max(1, Math.round(size * ratio)), offset = Math.floor(square / 2);
    const words = [fills.map((fill) => pixelWord(fill, 0.12)), fills.map((fill) => pixelWord(fill, 0.9))];  // dimmed, shown
    const isChosen = chosen ? new Uint8Array(count) : null;
    if (chosen) for (const i of chosen) isChosen[i] = 1;
    for (const pass of chosen ? [0, 1] : [1]) {  // the unselected stay visible, dimmed, under the selection
      const word = words[pass];
      for (let i = 0; i < count; i++) {
        if (chosen && isChosen[i] !== pass) continue;
        const x0 = Math.round(screen[2 * i] * ratio) - offset, y0 = Math.round(screen[2 * i + 1] * ratio) - offset;
        const x1 = Math.min(W, x0 + square), y1 = Math.min(H, y0 + square), value = word[bin[i]];
        for (let y = Math.max(0, y0); y < y1; y++) pixels.fill(value, y * W + Math.max(0, x0), y * W + x1);
      }
    }
    return image;
  }

  function draw() {
    // a grid's pane puts its legend and panel under the map, so the panes share the page's width
    const pane = Boolean(model.get("control_group"));
    root.classList.toggle("wb-map-pane", pane);
    const width = Math.max(200, (pane ? body.clientWidth - 2 : body.clientWidth - side.offsetWidth - 8) || 600);  // 2: the border
    const height = model.get("height");
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    syncControls();
    const xy = coords(), color = colorOf(model.get("color"), model.get("layer"));
    drawLegend(color);
    if (!xy) {
      state.screen = null;
      context.fillStyle = "#888";
      const what = model.get("method").toUpperCase() + " of this layer ";
      context.fillText(what + (state.kernel ? "is being computed…" : NEEDS_KERNEL), 12, 20);
      status.textContent = "";
      return;
    }
    const count = xy.length / 2;
    const screen = kept("screen", [xy, width, height, state.zoom, state.panX, state.panY], () => project(xy, width, height));
    state.screen = screen;
    const { bin, fills } = kept("bins", [color && color.data, color && color.kind, model.get("search"), count],
                                () => bins(color, count));  // fmt: skip
    const size = model.get("point_size");
    const image = kept("pixels", [screen, bin, model.get("selected"), size, ratio],
                       () => pixelsOf(screen, count, bin, fills, selected(), size, ratio));  // fmt: skip
    const chosen = selectedCount();
    context.putImageData(image, 0, 0);
    // the anchors of a relative view: few, so drawn as paths, dark diamonds on top of every point
    const anchorRows = anchors(), r = size + 2;
    context.fillStyle = "#111";
    context.strokeStyle = "#fff";
    context.lineWidth = 1;
    for (const i of anchorRows) {
      if (i >= count) continue;
      const x = screen[2 * i], y = screen[2 * i + 1];
      context.beginPath();
      context.moveTo(x, y - r);
      context.lineTo(x + r, y);
      context.lineTo(x, y + r);
      context.lineTo(x - r, y);
      context.closePath();
      context.fill();
      context.stroke();
    }
    const focus = model.get("hovered");
    if (focus >= 0 && focus < count) {
      context.strokeStyle = "#000";
      context.lineWidth = 2;
      context.beginPath();
      context.arc(screen[2 * focus], screen[2 * focus + 1], size + 4, 0, 2 * Math.PI);
      context.stroke();
    }
    if (state.lasso) {
      context.strokeStyle = "#333";
      context.setLineDash([4, 3]);
      context.beginPath();
      state.lasso.forEach(([x, y], i) => (i ? context.lineTo(x, y) : context.moveTo(x, y)));
      context.stroke();
      context.setLineDash([]);
    }
    const parts = [model.get("titles")[key()] || "", count.toLocaleString() + " points"];
    if (anchorRows.length) parts.push(anchorRows.length.toLocaleString() + " anchors (diamonds)");
    if (chosen) parts.push(chosen.toLocaleString() + " selected");
    status.textContent = parts.filter(Boolean).join(" · ");
    canvas.dataset.drawn = key() + ":" + model.get("color") + ":" + (chosen || 0);
  }

  function nearest(x, y) {
    // a 10-px grid of the points on screen, built on the first pick after they moved
    const screen = state.screen;
    if (!screen) return -1;
    const cell = 10, cellOf = (cx, cy) => (cx + 32768) * 65536 + (cy + 32768);  // a number key: fast at a million
    if (!state.grid || state.gridOf !== screen) {
      state.gridOf = screen;
      const cells = new Map();
      for (let i = 0; i < screen.length / 2; i++) {
        const k = cellOf(Math.floor(screen[2 * i] / cell), Math.floor(screen[2 * i + 1] / cell));
        (cells.get(k) || cells.set(k, []).get(k)).push(i);
      }
      state.grid = cells;
    }
    let best = -1, bestDistance = 64;
    const cx = Math.floor(x / cell), cy = Math.floor(y / cell);
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        for (const i of state.grid.get(cellOf(cx + dx, cy + dy)) || []) {
          const d = (screen[2 * i] - x) ** 2 + (screen[2 * i + 1] - y) ** 2;
          if (d < bestDistance) (best = i), (bestDistance = d);
        }
      }
    }
    return best;
  }

  function at(event) {
    const box = canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  function choose(rows) {
    const buffer = new Int32Array(rows);
    model.set("selected", new DataView(buffer.buffer));
    model.save_changes();
    tell("select", { ids: rows.map((row) => ids()[row]) });
  }

  function point(row, how) {
    state.how = how;
    showRow(row, how);
    if (model.get("hovered") === row) {
      draw();
      return;
    }
    ask("hovered", row);
    tell("hover", { id: ids()[row] });
  }

  canvas.addEventListener("mousedown", (event) => {
    state.lasso = [at(event)];
  });
  canvas.addEventListener("mousemove", (event) => {
    const [x, y] = at(event);
    if (state.lasso) {
      state.lasso.push([x, y]);
      draw();
      return;
    }
    const row = nearest(x, y);
    if (row >= 0 && row !== model.get("hovered")) point(row, "hovered");
  });
  window.addEventListener("mouseup", (event) => {
    if (!state.lasso) return;
    const polygon = state.lasso;
    state.lasso = null;
    if (polygon.length < 4) {
      const row = nearest(...at(event));
      if (row >= 0) point(row, "clicked");
      draw();
      return;
    }
    const screen = state.screen, rows = [];
    if (screen) for (let i = 0; i < screen.length / 2; i++) if (inside(polygon, screen[2 * i], screen[2 * i + 1])) rows.push(i);
    choose(rows);
  });
  canvas.addEventListener("dblclick", () => {
    state.zoom = 1;
    state.panX = state.panY = 0;
    choose([]);
  });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [x, y] = at(event), factor = event.deltaY < 0 ? 1.2 : 1 / 1.2;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    state.panX = (state.panX - (x - width / 2)) * factor + (x - width / 2);
    state.panY = (state.panY - (y - height / 2)) * factor + (y - height / 2);
    state.zoom *= factor;
    draw();
  });

  // --- the model ----------------------------------------------------------
  const redraw = () => draw();
  const names = ["layer", "method", "color", "search", "coords", "colors", "selected", "anchors", "color_names", "titles", "control_group"];
  for (const name of names) model.on("change:" + name, redraw);
  model.on("change:hovered", () => {
    const row = model.get("hovered");
    if (row >= 0) showRow(row, state.how === "hovered" || state.how === "clicked" ? state.how : "linked");
    state.how = "linked";
    draw();
  });
  model.on("change:ids change:texts", () => (state.ids = state.texts = state.index = null));
  model.on("msg:custom", (message, buffers) => {
    if (message && message.type === "pong") {
      state.kernel = true;
      el.dataset.kernel = "yes";
      draw();
    } else if (message && message.type === "media") {
      // a big map's page holds no media: the kernel sends the shown row's (the last few are kept)
      const found = {};
      message.kinds.forEach((kind, i) => (found[kind] = buffers[i]));
      state.rowMedia.set(message.row, found);
      if (state.rowMedia.size > 32) state.rowMedia.delete(state.rowMedia.keys().next().value);
      if (state.shown === message.row) showRow(message.row, state.shownHow);
    }
  });
  try {
    model.send({ type: "ping" });  // a kernel answers; a report or a handout has none
  } catch (error) {
    state.kernel = false;
  }
  el.dataset.kernel = "no";
  const resize = new ResizeObserver(redraw);
  resize.observe(body);
  draw();
  return () => {
    resize.disconnect();
    BUS.removeEventListener("wb-map", hear);
    for (const name of names) model.off("change:" + name, redraw);
  };
}

export default { render };
