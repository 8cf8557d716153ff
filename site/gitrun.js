/* gitrun report site: charts, the runs table, run comparison.
 *
 * Works from file:// and under any sub-path: data arrive as <script> files that fill
 * window.GITRUN_DATA (never fetch()), links are relative, user text is set with textContent only.
 * Vega-Lite specs come from the page (script#gitrun-specs); rows are attached as `datasets`.
 */
(function () {
  "use strict";

  var DATA = window.GITRUN_DATA = window.GITRUN_DATA || {};
  var ROOT = document.body.getAttribute("data-root") || "";
  var RUN_ID_RE = /^[0-9A-Za-z]{26}$/;
  var EMBED_OPTIONS = { actions: { export: true, source: false, compiled: false, editor: false }, renderer: "canvas" };

  // -- small helpers -----------------------------------------------------------------------
  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function readJSON(id) {
    var node = $(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function clone(value) { return JSON.parse(JSON.stringify(value)); }

  function debounce(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function num(value) {
    // The data files spell non-finite numbers as strings (strict JSON).
    if (value === "NaN") return NaN;
    if (value === "Infinity") return Infinity;
    if (value === "-Infinity") return -Infinity;
    return value;
  }

  function stripZeros(digits) { return digits.indexOf(".") < 0 ? digits : digits.replace(/0+$/, "").replace(/\.$/, ""); }

  // gitrun.formatting.format_number: Python's "{:.6g}", NaN as NaN, infinities as +∞ and -∞.
  function formatNumber(value, precision) {
    value = num(value);
    if (value === null || value === undefined) return "";
    if (typeof value !== "number") return String(value);
    if (isNaN(value)) return "NaN";
    if (!isFinite(value)) return value > 0 ? "+∞" : "-∞";
    var p = precision || 6;
    if (value === 0) return 1 / value < 0 ? "-0" : "0";
    var m = /^(-?)(\d(?:\.\d*)?)e([+-]\d+)$/.exec(value.toExponential(p - 1));
    var exp = parseInt(m[3], 10);
    if (exp < -4 || exp >= p) {
      return m[1] + stripZeros(m[2]) + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }
    return stripZeros(value.toFixed(p - 1 - exp));
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function formatTime(ms) {
    if (!ms) return "";
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function formatDuration(ms) {
    if (ms === null || ms === undefined) return "";
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + " s";
    var total = Math.round(s), h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), sec = total % 60;
    return h ? h + "h " + pad(m) + "m " + pad(sec) + "s" : m + "m " + pad(sec) + "s";
  }

  function runLabel(name, id) { return (name || id) + " ·" + id.slice(-5).toLowerCase(); }

  // -- charts ------------------------------------------------------------------------------
  function embed(node, spec, datasets) {
    if (typeof window.vegaEmbed !== "function") {
      node.textContent = "Charts need assets/vendor/vega-bundle.js, which did not load.";
      return Promise.resolve(null);
    }
    var full = clone(spec);
    full.datasets = datasets;
    return window.vegaEmbed(node, full, EMBED_OPTIONS).then(function (result) {
      // vega-embed's actions menu is an icon: give it a name screen readers can say.
      Array.prototype.forEach.call(node.querySelectorAll("details > summary"), function (summary) {
        summary.setAttribute("aria-label", "chart actions: save as SVG or PNG");
      });
      node.setAttribute("data-rendered", "true");
      return result;
    }).catch(function (err) {
      node.textContent = "This chart could not be drawn: " + err.message;
      throw err;
    });
  }

  function chartOptions() {
    var smoothing = $("smoothing"), log = $("log-scale"), axis = $("x-axis");
    return {
      alpha: smoothing ? Number(smoothing.value) : 0,
      log: log ? log.checked : false,
      x: axis ? axis.value : "step"
    };
  }

  // Metric-curve specs from gitrun.charts.metric_curves: every layer has x and y encodings.
  function curveSpec(spec, options, title, domain) {
    var s = clone(spec);
    if (title !== undefined) s.title = title;
    (s.layer || [s]).forEach(function (layer) {
      var enc = layer.encoding || {};
      if (enc.x) {
        enc.x.field = options.x;
        enc.x.title = options.x === "step" ? "step" : "time since first point (s)";
      }
      if (enc.y) {
        enc.y.scale = options.log ? { type: "log" } : { type: "linear", zero: false };
        if (title !== undefined) enc.y.title = title;
      }
      ["color", "strokeDash", "shape"].forEach(function (channel) {
        if (domain && enc[channel] && enc[channel].scale) enc[channel].scale.domain = domain;
      });
    });
    return s;
  }

  // Bar specs from gitrun.charts.metric_bars: the metric's name as title, the runs' colours fixed.
  function barSpec(spec, title, domain) {
    var s = clone(spec);
    s.title = title + ": one value per run";
    if (s.encoding && s.encoding.y) s.encoding.y.title = title;
    if (domain && s.encoding && s.encoding.color && s.encoding.color.scale) s.encoding.color.scale.domain = domain;
    return s;
  }

  function curveRows(label, series, options) {
    var rows = [];
    var ema = null;
    for (var i = 0; i < series.v.length; i++) {
      var v = series.v[i];
      if (v === null || v === undefined) continue;
      if (options.log && v <= 0) continue;
      ema = ema === null ? v : options.alpha * ema + (1 - options.alpha) * v;
      rows.push({ run: label, step: series.step[i], time: series.t[i], value: v, smooth: ema });
    }
    return rows;
  }

  function bindChartControls(draw) {
    ["smoothing", "log-scale", "x-axis"].forEach(function (id) {
      var node = $(id);
      if (!node) return;
      node.addEventListener(id === "smoothing" ? "input" : "change", debounce(draw, 120));
    });
  }

  // -- run page ----------------------------------------------------------------------------
  function initRun() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortableTable);
    Array.prototype.forEach.call(document.querySelectorAll("figure.image-steps"), stepSlider);
    var page = readJSON("gitrun-page");
    var run = page && DATA[page.data];
    var specs = readJSON("gitrun-specs") || {};
    if (!run) return;
    var nodes = Array.prototype.slice.call(document.querySelectorAll(".chart[data-kind=metric]"));
    function draw() {
      var options = chartOptions();
      nodes.forEach(function (node) {
        var key = node.getAttribute("data-metric");
        var series = run.series[key];
        var spec = specs[node.getAttribute("data-spec")];
        if (!series || !spec) return;
        embed(node, curveSpec(spec, options), { series: curveRows(runLabel(run.name, run.id), series, options) });
      });
    }
    bindChartControls(draw);
    draw();
  }

  function sitePath(path) { return path.split("/").map(encodeURIComponent).join("/"); }

  // A stepped image (log_image(key=, step=)): the slider picks the step shown.
  function stepSlider(figure) {
    var srcs = JSON.parse(figure.getAttribute("data-srcs"));
    var hrefs = JSON.parse(figure.getAttribute("data-hrefs"));
    var steps = JSON.parse(figure.getAttribute("data-steps"));
    var slider = figure.querySelector("input.step-slider");
    var img = figure.querySelector("img"), link = figure.querySelector("a.full"), out = figure.querySelector("output");
    if (!slider || !img) return;
    slider.addEventListener("input", function () {
      var i = Number(slider.value);
      if (srcs[i]) img.src = ROOT + sitePath(srcs[i]);
      img.alt = figure.getAttribute("data-path") + " at step " + steps[i];
      if (link) link.href = ROOT + sitePath(hrefs[i] || srcs[i]);
      out.textContent = String(steps[i]);
    });
  }

  // A preview table sorts by a column when its header button is pressed (again: reversed);
  // numbers as numbers, the rest as text.
  function sortableTable(table) {
    var body = table.tBodies[0];
    var buttons = table.querySelectorAll("thead button.sort");
    Array.prototype.forEach.call(buttons, function (button, col) {
      button.addEventListener("click", function () {
        var th = button.parentNode;
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(table.querySelectorAll("thead th"), function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].textContent, y = b.cells[col].textContent;
          var nx = Number(x), ny = Number(y);
          var cmp = x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
          return ascending ? cmp : -cmp;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  // -- experiment page: the runs table -----------------------------------------------------
  var ROW_HEIGHT = 30;

  function decodeColumn(col) {
    if (col.values) return col.values;
    return col.codes.map(function (c) { return c === null ? null : col.dict[c]; });
  }

  // A data file's value: the <script> that sets DATA[key] is inserted once (file:// allows no fetch()).
  var pending = {};
  function loadData(src, key) {
    if (DATA[key]) return Promise.resolve(DATA[key]);
    if (!pending[key]) {
      pending[key] = new Promise(function (resolve) {
        var script = document.createElement("script");
        script.src = ROOT + src;
        script.onload = function () { resolve(DATA[key] || null); };
        script.onerror = function () { delete pending[key]; resolve(null); };
        document.body.appendChild(script);
      });
    }
    return pending[key];
  }

  // The table's values arrive in chunks (data/experiments/<id>/<chunk>.js), in the rows' default
  // order (newest first): the rows in view load theirs; sorting, filtering, searching, grouping and
  // selecting all first load every chunk.
  function RunsTable(table, experimentData) {
    var self = this;
    this.columns = table.columns;
    this.n = table.count;
    this.values = table.columns.map(function (col) {  // a table in one piece (a plugin's page) has its values
      return col.values || col.codes ? decodeColumn(col) : new Array(table.count).fill(null);
    });
    this.chunks = [];
    this.chunkOf = new Int32Array(table.count);
    var offset = 0;
    (table.chunks || []).forEach(function (chunk, i) {
      self.chunks.push({ src: chunk.src, key: chunk.key, offset: offset, rows: chunk.rows, state: "new" });
      self.chunkOf.fill(i, offset, offset + chunk.rows);
      offset += chunk.rows;
    });
    this.missing = this.chunks.length;  // chunks not loaded yet
    this.byId = {};
    this.columns.forEach(function (col, i) { self.byId[col.id] = i; });
    this.visible = this.columns.map(function (col) { return !col.hidden; });
    this.sort = { col: this.byId.start_time, dir: -1 };  // the chunks' order
    this.selected = {};
    this.searchText = "";
    this.predicate = null;
    this.view = [];
    this.items = [];  // what the body shows: row indexes, and group headers when grouped
    this.group = null;  // index of the column the rows are grouped by
    this.folded = {};  // group value -> true when folded
    this.textIndex = null;
    this.lookups = this.buildLookups();
    this.wrap = $("table-wrap");
    this.thead = document.querySelector("#runs-table thead");
    this.tbody = document.querySelector("#runs-table tbody");
    this.lastWindow = null;
    this.experiment = experimentData;
    this.wrap.addEventListener("scroll", function () { self.renderBody(false); });
    this.buildColumnChooser();
    this.applyFilters();
  }

  RunsTable.prototype.loadChunk = function (i) {
    var self = this, chunk = this.chunks[i];
    if (chunk.state !== "new") return;
    chunk.state = "loading";
    loadData(chunk.src, chunk.key).then(function (data) {
      if (!data) { chunk.state = "failed"; self.showCount(); return; }
      self.columns.forEach(function (col, c) {
        var encoded = data.columns[col.id];
        if (!encoded) return;  // no run of this chunk has a value there
        var values = decodeColumn(encoded), target = self.values[c];
        for (var r = 0; r < chunk.rows; r++) target[chunk.offset + r] = values[r];
      });
      chunk.state = "loaded";
      self.missing -= 1;
      self.textIndex = null;
      if (self.missing === 0 && self.waiting) { self.waiting = false; self.applyFilters(); }
      else self.renderBody(true);
    });
  };

  // Sorting by anything but the chunks' order, filtering, searching and grouping need every row.
  RunsTable.prototype.needsAll = function () {
    return !!(this.searchText || this.predicate || this.group !== null || this.sort.col !== this.byId.start_time || this.sort.dir !== -1);
  };

  RunsTable.prototype.loadAll = function () {
    this.waiting = true;
    for (var i = 0; i < this.chunks.length; i++) this.loadChunk(i);
    this.renderHead();
    this.showCount();
  };

  // Run ``fn`` once every chunk is loaded (at once when they are).
  RunsTable.prototype.whenLoaded = function (fn) {
    if (!this.missing) { fn(); return; }
    var self = this;
    Promise.all(this.chunks.map(function (c, i) { self.loadChunk(i); return loadData(c.src, c.key); })).then(function () {
      if (!self.missing) fn();
    });
  };

  RunsTable.prototype.showCount = function () {
    var count = $("row-count");
    if (!count) return;
    var failed = this.chunks.filter(function (c) { return c.state === "failed"; }).length;
    if (failed) count.textContent = "could not load " + failed + " part" + (failed === 1 ? "" : "s") + " of the table";
    else if (this.waiting) count.textContent = "loading " + this.n + " runs… (" + (this.chunks.length - this.missing) + " of " + this.chunks.length + " parts)";
    else count.textContent = this.view.length + " of " + this.n + " runs";
  };

  RunsTable.prototype.buildLookups = function () {
    var maps = { metric: {}, param: {}, tag: {}, attr: {} };
    this.columns.forEach(function (col, i) {
      if (col.kind === "metric" && col.stat === "latest") maps.metric[col.key] = i;
      else if (col.kind === "param") maps.param[col.key] = i;
      else if (col.kind === "tag") maps.tag[col.key] = i;
      else if (col.kind === "attr") maps.attr[col.key] = i;
    });
    return maps;
  };

  RunsTable.prototype.accessor = function (row) {
    var values = this.values, maps = this.lookups;
    function get(map, key) {
      if (!Object.prototype.hasOwnProperty.call(map, key)) return undefined;
      var v = values[map[key]][row];
      return v === null ? undefined : v;
    }
    return {
      metric: function (key) { var v = get(maps.metric, key); return v === undefined ? undefined : num(v); },
      param: function (key) { return get(maps.param, key); },
      tag: function (key) { return get(maps.tag, key); },
      attr: function (key) { return get(maps.attr, key); }
    };
  };

  RunsTable.prototype.buildTextIndex = function () {
    var self = this, texts = new Array(this.n);
    var cols = [];
    this.columns.forEach(function (col, i) {
      if (col.kind === "param" || col.kind === "tag" || col.id === "run_name" || col.id === "run_id" || col.id === "status" || col.id === "user_id") cols.push(i);
    });
    for (var r = 0; r < this.n; r++) {
      var parts = [];
      for (var k = 0; k < cols.length; k++) {
        var v = self.values[cols[k]][r];
        if (v !== null && v !== undefined) parts.push(String(v));
      }
      texts[r] = parts.join("\u0001").toLowerCase();
    }
    this.textIndex = texts;
  };

  RunsTable.prototype.setSearch = function (text) { this.searchText = text.trim().toLowerCase(); this.applyFilters(); };

  RunsTable.prototype.setFilter = function (source) {
    var error = $("filter-error"), input = $("filter");
    try {
      this.predicate = source.trim() ? window.GitrunFilter.compile(source) : null;
      error.textContent = "";
      input.classList.remove("invalid");
    } catch (err) {
      if (!(err instanceof window.GitrunFilter.FilterError)) throw err;
      error.textContent = err.message;
      input.classList.add("invalid");
      return;
    }
    this.applyFilters();
  };

  RunsTable.prototype.applyFilters = function () {
    var view = [];
    if (this.missing && this.needsAll()) { this.loadAll(); return; }
    var text = this.searchText;
    if (text && !this.textIndex) this.buildTextIndex();
    for (var r = 0; r < this.n; r++) {
      if (text && this.textIndex[r].indexOf(text) < 0) continue;
      if (this.predicate && !this.predicate(this.accessor(r))) continue;
      view.push(r);
    }
    this.view = view;
    this.applySort();
  };

  RunsTable.prototype.sortKey = function (col) {
    var values = this.values[col], type = this.columns[col].type;
    if (type === "num" || type === "time" || type === "duration") {
      return function (r) { var v = num(values[r]); return v === null || v === undefined || isNaN(v) ? null : v; };
    }
    if (type === "param") {
      return function (r) {
        var v = values[r];
        if (v === null || v === undefined) return null;
        var n = Number(v);
        return v.trim() !== "" && !isNaN(n) ? n : String(v).toLowerCase();
      };
    }
    return function (r) { var v = values[r]; return v === null || v === undefined || v === "" ? null : String(v).toLowerCase(); };
  };

  RunsTable.prototype.applySort = function () {
    var s = this.sort;
    if (this.missing && this.needsAll()) { this.loadAll(); return; }
    if (s.col !== undefined && s.col !== null && this.needsAll()) {  // else the rows are in the chunks' order
      var key = this.sortKey(s.col), ids = this.values[this.byId.run_id];
      var keyed = this.view.map(function (r) { return [key(r), r]; });
      keyed.sort(function (a, b) {
        var x = a[0], y = b[0];
        if (x === null && y === null) return ids[a[1]] < ids[b[1]] ? -1 : 1;
        if (x === null) return 1; // missing values last, whatever the direction
        if (y === null) return -1;
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        if (x < y) return -s.dir;
        if (x > y) return s.dir;
        return ids[a[1]] < ids[b[1]] ? -1 : 1;
      });
      this.view = keyed.map(function (k) { return k[1]; });
    }
    this.buildItems();
    this.renderHead();
    this.renderBody(true);
    this.showCount();
  };

  // Grouped: rows stay in their sort order within each group; groups in value order, missing last.
  RunsTable.prototype.buildItems = function () {
    if (this.group === null) { this.items = this.view.slice(); return; }
    var values = this.values[this.group], groups = {}, order = [];
    this.view.forEach(function (r) {
      var v = values[r] === null || values[r] === undefined ? "" : String(values[r]);
      if (!groups[v]) { groups[v] = []; order.push(v); }
      groups[v].push(r);
    });
    order.sort(function (a, b) { return a === "" ? 1 : b === "" ? -1 : a < b ? -1 : a > b ? 1 : 0; });
    var items = [], self = this;
    order.forEach(function (v) {
      items.push({ group: v, count: groups[v].length });
      if (!self.folded[v]) items = items.concat(groups[v]);
    });
    this.items = items;
  };

  RunsTable.prototype.setGroup = function (colId) {
    this.group = colId && this.byId[colId] !== undefined ? this.byId[colId] : null;
    this.folded = {};
    this.applySort();
  };

  RunsTable.prototype.toggleGroup = function (value) {
    if (this.folded[value]) delete this.folded[value]; else this.folded[value] = true;
    this.buildItems();
    this.renderBody(true);
    var button = this.tbody.querySelector('tr.group[data-group="' + CSS.escape(value) + '"] button');
    if (button) button.focus();
  };

  RunsTable.prototype.groupRow = function (item, span) {
    var self = this, col = this.columns[this.group];
    var tr = el("tr", { className: "group", "data-group": item.group });
    var td = el("td", { colspan: String(span) });
    var open = !this.folded[item.group];
    var label = (open ? "▾ " : "▸ ") + col.key + " = " + (item.group === "" ? "(none)" : item.group) + " (" + item.count + " run" + (item.count === 1 ? "" : "s") + ")";
    var button = el("button", { type: "button", className: "fold", "aria-expanded": open ? "true" : "false" }, label);
    button.addEventListener("click", function () { self.toggleGroup(item.group); });
    td.appendChild(button);
    tr.appendChild(td);
    return tr;
  };

  RunsTable.prototype.setSort = function (col) {
    if (this.sort.col === col) this.sort.dir = -this.sort.dir;
    else this.sort = { col: col, dir: this.columns[col].type === "num" ? -1 : 1 };
    this.applySort();
  };

  RunsTable.prototype.renderHead = function () {
    var self = this;
    var tr = el("tr");
    var th0 = el("th", { className: "select" });
    var all = el("input", { type: "checkbox", "aria-label": "select all shown runs", id: "select-all" });
    all.checked = this.view.length > 0 && this.view.every(function (r) { return self.selected[self.runId(r)]; });
    all.addEventListener("change", function () {
      var checked = all.checked;
      self.whenLoaded(function () {
        self.view.forEach(function (r) {
          if (checked) self.selected[self.runId(r)] = true; else delete self.selected[self.runId(r)];
        });
        self.renderBody(true);
        self.updateCompare();
      });
    });
    th0.appendChild(all);
    tr.appendChild(th0);
    this.columns.forEach(function (col, i) {
      if (!self.visible[i]) return;
      var th = el("th", { "data-col": col.id, className: col.kind + (col.type === "num" || col.type === "duration" ? " num" : "") });
      var button = el("button", { type: "button", className: "sort" }, col.label);
      if (self.sort.col === i) {
        th.setAttribute("aria-sort", self.sort.dir > 0 ? "ascending" : "descending");
        button.appendChild(el("span", { className: "arrow" }, self.sort.dir > 0 ? " ▲" : " ▼"));
      }
      button.title = (col.kind === "attr" || col.kind === "derived" ? "" : col.kind + "s.") + col.key + (col.stat && col.stat !== "latest" ? " (" + col.stat + ")" : "");
      button.addEventListener("click", function () { self.setSort(i); });
      th.appendChild(button);
      tr.appendChild(th);
    });
    this.thead.textContent = "";
    this.thead.appendChild(tr);
  };

  RunsTable.prototype.runId = function (r) { return this.values[this.byId.run_id][r]; };

  RunsTable.prototype.cell = function (col, i, r) {
    var v = this.values[i][r];
    var td = el("td");
    if (col.type === "num" || col.type === "duration") td.className = "num";
    if (col.id === "run_name") {
      var id = this.runId(r);
      td.appendChild(el("a", { href: ROOT + "runs/" + id + ".html" }, v || id));
    } else if (col.type === "time") {
      td.textContent = formatTime(v);
    } else if (col.type === "duration") {
      td.textContent = formatDuration(v);
    } else if (col.type === "num") {
      td.textContent = formatNumber(v);
    } else if (col.type === "commit") {
      if (v) { td.textContent = String(v).slice(0, 10); td.title = v; }
    } else if (v !== null && v !== undefined) {
      td.textContent = String(v);
      if (String(v).length > 40) td.title = String(v);
    }
    return td;
  };

  RunsTable.prototype.renderBody = function (force) {
    var self = this;
    var total = this.items.length;
    var height = this.wrap.clientHeight || 600;
    var first = Math.max(0, Math.floor(this.wrap.scrollTop / ROW_HEIGHT) - 10);
    var last = Math.min(total, first + Math.ceil(height / ROW_HEIGHT) + 20);
    var key = first + ":" + last;
    if (!force && key === this.lastWindow) return;
    this.lastWindow = key;
    var span = 1 + this.visible.filter(Boolean).length;
    var frag = document.createDocumentFragment();
    if (first > 0) {
      var top = el("tr", { className: "spacer" });
      top.appendChild(el("td", { colspan: String(span), style: "height:" + first * ROW_HEIGHT + "px" }));
      frag.appendChild(top);
    }
    for (var k = first; k < last; k++) {
      var r = this.items[k];
      if (typeof r !== "number") { frag.appendChild(this.groupRow(r, span)); continue; }
      var chunk = this.chunks[this.chunkOf[r]];
      if (chunk && chunk.state !== "loaded") {  // its values are on their way
        this.loadChunk(this.chunkOf[r]);
        var waiting = el("tr", { className: "loading" });
        waiting.appendChild(el("td", { colspan: String(span) }, chunk.state === "failed" ? "could not load these runs" : "loading…"));
        frag.appendChild(waiting);
        continue;
      }
      var id = this.runId(r);
      var tr = el("tr", { "data-run-id": id });
      var td0 = el("td", { className: "select" });
      var box = el("input", { type: "checkbox", "aria-label": "select run " + id, className: "row-select" });
      box.checked = !!this.selected[id];
      box.addEventListener("change", (function (runId, input) {
        return function () {
          if (input.checked) self.selected[runId] = true; else delete self.selected[runId];
          self.updateCompare();
        };
      })(id, box));
      td0.appendChild(box);
      tr.appendChild(td0);
      for (var i = 0; i < this.columns.length; i++) if (this.visible[i]) tr.appendChild(this.cell(this.columns[i], i, r));
      frag.appendChild(tr);
    }
    if (last < total) {
      var bottom = el("tr", { className: "spacer" });
      bottom.appendChild(el("td", { colspan: String(span), style: "height:" + (total - last) * ROW_HEIGHT + "px" }));
      frag.appendChild(bottom);
    }
    this.tbody.textContent = "";
    this.tbody.appendChild(frag);
  };

  RunsTable.prototype.updateCompare = function () {
    var ids = Object.keys(this.selected).sort();
    var link = $("compare-link");
    link.textContent = "Compare selected (" + ids.length + ")";
    if (ids.length) {
      link.href = ROOT + "compare.html?runs=" + ids.join(",");
      link.classList.remove("disabled");
      link.removeAttribute("aria-disabled");
    } else {
      link.href = ROOT + "compare.html";
      link.classList.add("disabled");
      link.setAttribute("aria-disabled", "true");
    }
  };

  RunsTable.prototype.buildColumnChooser = function () {
    var self = this, box = $("column-list");
    if (!box) return;
    var groups = { attr: "Run", derived: "Run", param: "Params", metric: "Metrics", tag: "Tags" };
    var current = null;
    this.columns.forEach(function (col, i) {
      var group = groups[col.kind] || col.kind;
      if (group !== current) { box.appendChild(el("h4", null, group)); current = group; }
      var label = el("label");
      var input = el("input", { type: "checkbox", "data-col": col.id });
      input.checked = self.visible[i];
      input.addEventListener("change", function () {
        self.visible[i] = input.checked;
        self.renderHead();
        self.renderBody(true);
      });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + col.label));
      box.appendChild(label);
    });
  };

  function initExperiment() {
    var page = readJSON("gitrun-page");
    var data = page && DATA[page.data];
    if (!data) return;
    var specs = readJSON("gitrun-specs") || {};
    var table = new RunsTable(data.table, data.experiment);
    window.GITRUN.table = table;
    var search = $("search"), filter = $("filter");
    search.addEventListener("input", debounce(function () { table.setSearch(search.value); }, 150));
    filter.addEventListener("input", debounce(function () { table.setFilter(filter.value); }, 200));
    if (search.value) table.setSearch(search.value);
    if (filter.value) table.setFilter(filter.value);
    if (specs.best && data.best && data.best.bars) {
      embed($("chart-best"), specs.best, { bars: data.best.bars });
    } else if (specs.best && data.best) {
      var options = { alpha: 0, log: false, x: "step" };
      var rows = [];
      data.best.runs.forEach(function (run) { rows = rows.concat(curveRows(run.run, run, options)); });
      var drawBest = function () { embed($("chart-best"), curveSpec(specs.best, options), { series: rows }); };
      var select = $("group-by");
      if (select && specs.band && data.best.groups) bindGrouping(select, data.best, specs.band, drawBest);
      drawBest();
    }
    if (specs.pcp && data.pcp) embed($("chart-pcp"), specs.pcp, { pcp: data.pcp.rows, pcp_ticks: data.pcp.ticks });
    if (specs.scatter && data.scatter) embed($("chart-scatter"), specs.scatter, { scatter: data.scatter });
  }

  // Group the best runs by a param or tag: each group's mean per step with its min-max band.
  function bandRows(best, key) {
    var values = best.groups[key];
    var byGroup = {};
    best.runs.forEach(function (run, i) {
      var group = values[i] === null || values[i] === undefined ? "(none)" : String(values[i]);
      var steps = byGroup[group] || (byGroup[group] = {});
      for (var j = 0; j < run.v.length; j++) {
        if (run.v[j] === null || run.v[j] === undefined) continue;
        (steps[run.step[j]] || (steps[run.step[j]] = [])).push(run.v[j]);
      }
    });
    var rows = [];
    Object.keys(byGroup).sort().forEach(function (group) {
      Object.keys(byGroup[group]).map(Number).sort(function (a, b) { return a - b; }).forEach(function (step) {
        var vs = byGroup[group][step];
        var sum = vs.reduce(function (a, b) { return a + b; }, 0);
        rows.push({ group: key.replace(/^(params|tags)\./, "") + "=" + group, step: step, mean: sum / vs.length,
          min: Math.min.apply(null, vs), max: Math.max.apply(null, vs), runs: vs.length });
      });
    });
    return rows;
  }

  // params.lr -> the runs table's column "p:lr"; tags.team -> "t:team"
  function groupColumn(key) { return key.replace(/^params\./, "p:").replace(/^tags\./, "t:"); }

  function bindGrouping(select, best, spec, drawUngrouped) {
    Object.keys(best.groups).sort().forEach(function (key) { select.appendChild(el("option", { value: key }, key)); });
    select.addEventListener("change", function () {
      var node = $("chart-best");
      if (window.GITRUN.table) window.GITRUN.table.setGroup(select.value ? groupColumn(select.value) : null);
      if (!select.value) { node.removeAttribute("data-grouped"); drawUngrouped(); return; }
      node.setAttribute("data-grouped", select.value);
      embed(node, spec, { band: bandRows(best, select.value) });
    });
  }

  // -- compare page ------------------------------------------------------------------------
  function loadRun(id) { return loadData("data/runs/" + id + ".js", "run:" + id); }

  function initCompare() {
    var raw = new URLSearchParams(window.location.search).get("runs") || "";
    var ids = [];
    raw.split(",").forEach(function (part) {
      var id = part.trim().toUpperCase();
      if (RUN_ID_RE.test(id) && ids.indexOf(id) < 0) ids.push(id);
    });
    var status = $("compare-status");
    if (!ids.length) return;
    status.textContent = "Loading " + ids.length + " runs…";
    Promise.all(ids.map(loadRun)).then(function (runs) {
      var found = runs.filter(Boolean);
      var missing = ids.filter(function (id, i) { return !runs[i]; });
      status.textContent = "Comparing " + found.length + " run" + (found.length === 1 ? "" : "s") + (missing.length ? "; not in this site: " + missing.join(", ") : "") + ".";
      if (!found.length) return;
      renderCompareSummary(found);
      renderCompareParams(found);
      renderCompareCharts(found);
      renderCompareTables(found);
    });
  }

  function runHeader(runs, firstLabel) {
    var tr = el("tr");
    tr.appendChild(el("th", null, firstLabel));
    runs.forEach(function (run) {
      var th = el("th");
      th.appendChild(el("a", { href: ROOT + "runs/" + run.id + ".html" }, run.name || run.id));
      tr.appendChild(th);
    });
    return tr;
  }

  function renderCompareSummary(runs) {
    var table = $("compare-summary");
    table.tHead.appendChild(runHeader(runs, ""));
    var body = table.tBodies[0];
    function row(label, values, className) {
      var tr = el("tr", className ? { className: className } : null);
      tr.appendChild(el("th", { scope: "row" }, label));
      values.forEach(function (v) { tr.appendChild(el("td", null, v)); });
      body.appendChild(tr);
    }
    row("experiment", runs.map(function (r) { return r.experiment; }));
    row("status", runs.map(function (r) { return r.status; }));
    row("start", runs.map(function (r) { return formatTime(r.start_time); }));
    row("duration", runs.map(function (r) { return r.end_time ? formatDuration(r.end_time - r.start_time) : ""; }));
    row("commit", runs.map(function (r) { return r.commit ? r.commit.slice(0, 10) : ""; }));
    var keys = {};
    runs.forEach(function (r) { Object.keys(r.metrics).forEach(function (k) { keys[k] = true; }); });
    Object.keys(keys).sort().forEach(function (key) {
      var tr = el("tr", { "data-metric": key });
      tr.appendChild(el("th", { scope: "row" }, key));
      runs.forEach(function (r) {
        var m = r.metrics[key];
        tr.appendChild(el("td", { className: "num" }, m ? formatNumber(m.latest) : ""));
      });
      body.appendChild(tr);
    });
  }

  function renderCompareParams(runs) {
    var table = $("compare-params");
    table.tHead.appendChild(runHeader(runs, "param"));
    var body = table.tBodies[0];
    var keys = {};
    runs.forEach(function (r) { Object.keys(r.params).forEach(function (k) { keys[k] = true; }); });
    Object.keys(keys).sort().forEach(function (key) {
      var values = runs.map(function (r) { return Object.prototype.hasOwnProperty.call(r.params, key) ? r.params[key] : null; });
      var differs = values.some(function (v) { return v !== values[0]; });
      var tr = el("tr", { "data-param": key, className: differs ? "diff" : "same" });
      tr.appendChild(el("th", { scope: "row" }, key));
      values.forEach(function (v) { tr.appendChild(el("td", v === null ? { className: "missing" } : null, v === null ? "—" : v)); });
      body.appendChild(tr);
    });
    var only = $("only-diff");
    only.addEventListener("change", function () { table.classList.toggle("only-diff", only.checked); });
  }

  // log_table's tables of the same path, one table with a run column: rows side by side.
  function renderCompareTables(runs) {
    var box = $("compare-tables"), paths = {};
    runs.forEach(function (r) { Object.keys(r.tables || {}).forEach(function (p) { paths[p] = true; }); });
    var names = Object.keys(paths).sort();
    if (names.length && $("compare-tables-empty")) $("compare-tables-empty").hidden = true;
    names.forEach(function (path) {
      var columns = [];
      runs.forEach(function (r) {
        var t = r.tables && r.tables[path];
        if (t) t.columns.forEach(function (c) { if (columns.indexOf(c) < 0) columns.push(c); });
      });
      var figure = el("figure", { className: "preview", "data-table": path });
      figure.appendChild(el("figcaption", null, path));
      var table = el("table", { className: "grid preview-table sortable" });
      var head = el("tr");
      ["run"].concat(columns).forEach(function (c) {
        var th = el("th", { scope: "col" });
        th.appendChild(el("button", { type: "button", className: "sort" }, c));
        head.appendChild(th);
      });
      table.appendChild(el("thead")).appendChild(head);
      var body = table.appendChild(el("tbody"));
      runs.forEach(function (r) {
        var t = r.tables && r.tables[path];
        if (!t) return;
        t.rows.forEach(function (row) {
          var tr = el("tr");
          tr.appendChild(el("td", null, runLabel(r.name, r.id)));
          columns.forEach(function (c) {
            var i = t.columns.indexOf(c);
            tr.appendChild(el("td", null, i < 0 || row[i] === undefined ? "" : row[i]));
          });
          body.appendChild(tr);
        });
      });
      var wrap = el("div", { className: "table-wrap" });
      wrap.appendChild(table);
      figure.appendChild(wrap);
      box.appendChild(figure);
      sortableTable(table);
    });
  }

  function renderCompareCharts(runs) {
    var specs = readJSON("gitrun-specs") || {};
    var box = $("compare-charts");
    var keys = {};
    runs.forEach(function (r) { Object.keys(r.series).forEach(function (k) { keys[k] = true; }); });
    var labels = runs.map(function (r) { return runLabel(r.name, r.id); });
    var nodes = Object.keys(keys).sort().map(function (key, i) {
      var figure = el("figure", { className: "chart-box" });
      figure.appendChild(el("figcaption", null, key));
      var node = el("div", { className: "chart", id: "compare-chart-" + i, "data-metric": key });
      figure.appendChild(node);
      box.appendChild(figure);
      return node;
    });
    // A metric every run logged once is a bar per run (as in MLflow's UI), not one-point lines.
    function once(key) {
      return runs.every(function (r) { return !r.series[key] || r.series[key].n === 1; });
    }
    function draw() {
      var options = chartOptions();
      nodes.forEach(function (node) {
        var key = node.getAttribute("data-metric");
        var rows = [];
        if (once(key) && specs.bars) {
          runs.forEach(function (r, i) { if (r.series[key] && r.series[key].v[0] !== null) rows.push({ run: labels[i], value: r.series[key].v[0] }); });
          node.setAttribute("data-chart", "bars");
          embed(node, barSpec(specs.bars, key, labels), { bars: rows });
          return;
        }
        runs.forEach(function (r, i) { if (r.series[key]) rows = rows.concat(curveRows(labels[i], r.series[key], options)); });
        node.setAttribute("data-chart", "curves");
        embed(node, curveSpec(specs.compare, options, key, labels), { series: rows });
      });
    }
    bindChartControls(draw);
    draw();
  }

  // -- history page ------------------------------------------------------------------------
  function initHistory() {
    var specs = readJSON("gitrun-specs") || {};
    var rows = readJSON("gitrun-history") || [];
    if (specs.history && rows.length) embed($("chart-history"), specs.history, { history: rows });
  }

  window.GITRUN = { embed: embed, formatNumber: formatNumber, curveSpec: curveSpec, curveRows: curveRows, bandRows: bandRows };
  var page = document.body.getAttribute("data-page");
  var init = { run: initRun, experiment: initExperiment, compare: initCompare, history: initHistory }[page];
  if (init) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
    else init();
  }
})();
