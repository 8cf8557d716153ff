/* gitrun's filter grammar in the browser: MLflow's search_runs language plus OR, NOT and
 * parentheses. A port of gitrun/search/grammar.py (tokenizer, recursive-descent parser, type
 * rules) and of its evaluation rules; tests/fixtures/filter_cases.json holds the cases both must
 * agree on (tests/test_site_filter.py runs them through Python and through Chromium).
 *
 *   GitrunFilter.compile("params.lr < 0.01 OR metrics.acc > 0.9") -> function (run) -> bool
 *
 * `run` offers metric(key), param(key), tag(key) and attr(name); each returns undefined when the
 * run lacks the key. A syntax error throws GitrunFilter.FilterError with .reason and .position.
 */
(function (global) {
  "use strict";

  var KEYWORDS = ["AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"];
  var PREFIXES = {
    metric: "metric", metrics: "metric",
    param: "param", params: "param", parameter: "param", parameters: "param",
    tag: "tag", tags: "tag",
    attribute: "attribute", attributes: "attribute", attr: "attribute", run: "attribute"
  };
  var PREFIX_OF_KIND = { metric: "metrics", param: "params", tag: "tags", attribute: "attributes" };
  var ATTRIBUTES = ["artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id"];
  var NUMERIC_ATTRIBUTES = ["start_time", "end_time"];
  var ALIASES = { "created": "start_time", "Created": "start_time", "run name": "run_name", "Run name": "run_name", "Run Name": "run_name" };
  var PATTERN_OPS = ["LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"];
  var NUMBER_RE = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
  var BARE_RE = /[\p{L}\p{N}_\-\/:]+/uy;
  var WS = " \t\r\n";

  function FilterError(reason, source, position) {
    this.name = "FilterError";
    this.reason = reason;
    this.source = source;
    this.position = position;
    this.message = "invalid filter: " + reason + " (at character " + (position + 1) + ")";
  }
  FilterError.prototype = Object.create(Error.prototype);
  FilterError.prototype.constructor = FilterError;

  function matchAt(re, source, i) {
    re.lastIndex = i;
    var m = re.exec(source);
    return m && m.index === i ? m[0] : null;
  }

  function readQuoted(source, pos) {
    var quote = source[pos];
    var out = "";
    var i = pos + 1;
    for (;;) {
      var j = source.indexOf(quote, i);
      if (j < 0) {
        var name = { "'": "string", '"': "quoted name or string", "`": "quoted name" }[quote];
        throw new FilterError("unterminated " + name + ": add the closing " + quote, source, pos);
      }
      out += source.slice(i, j);
      if (source[j + 1] === quote) {
        out += quote;
        i = j + 2;
        continue;
      }
      return [out, j + 1];
    }
  }

  function tokenize(source) {
    var tokens = [];
    var i = 0;
    var n = source.length;
    while (i < n) {
      var c = source[i];
      if (WS.indexOf(c) >= 0) { i += 1; continue; }
      if (c === "(" || c === ")" || c === ",") { tokens.push({ kind: c, text: c, pos: i }); i += 1; continue; }
      if ("<>!=".indexOf(c) >= 0) {
        var two = source.slice(i, i + 2);
        if (two === "<=" || two === ">=" || two === "!=") { tokens.push({ kind: "op", text: two, pos: i }); i += 2; }
        else if (c === "!") throw new FilterError("unexpected '!': did you mean '!='?", source, i);
        else if (two === "==") throw new FilterError("use '=' for equality, not '=='", source, i);
        else if (two === "<>") throw new FilterError("use '!=' for inequality, not '<>'", source, i);
        else { tokens.push({ kind: "op", text: c, pos: i }); i += 1; }
        continue;
      }
      if (c === "'") {
        var q = readQuoted(source, i);
        tokens.push({ kind: "string", text: source.slice(i, q[1]), pos: i, value: q[0] });
        i = q[1];
        continue;
      }
      var number = (/[0-9]/.test(c) || "+-.".indexOf(c) >= 0) ? matchAt(NUMBER_RE, source, i) : null;
      if (number) {
        var end = i + number.length;
        if (end < n && (matchAt(BARE_RE, source, end) || "'\"`.".indexOf(source[end]) >= 0)) {
          throw new FilterError("cannot read '" + source.slice(i, end + 1) + "': a number must be followed by a space, ')' or ','", source, i);
        }
        var value = /^[+-]?\d+$/.test(number) ? parseInt(number, 10) : parseFloat(number);
        tokens.push({ kind: "number", text: number, pos: i, value: value, integer: /^[+-]?\d+$/.test(number) });
        i = end;
        continue;
      }
      if (c === "`" || c === '"' || matchAt(BARE_RE, source, i)) {
        var start = i;
        var segments = [];
        for (;;) {
          if (i < n && (source[i] === "`" || source[i] === '"')) {
            var quote = source[i];
            var r = readQuoted(source, i);
            segments.push([r[0], quote]);
            i = r[1];
          } else {
            var bare = matchAt(BARE_RE, source, i);
            if (!bare) throw new FilterError("expected a name after '" + source.slice(start, i) + "'", source, i);
            segments.push([bare, ""]);
            i += bare.length;
          }
          if (i < n && source[i] === ".") { i += 1; continue; }
          break;
        }
        var text = source.slice(start, i);
        if (segments.length === 1 && !segments[0][1] && KEYWORDS.indexOf(segments[0][0].toUpperCase()) >= 0) {
          tokens.push({ kind: "keyword", text: text, pos: start, value: segments[0][0].toUpperCase() });
        } else {
          tokens.push({ kind: "path", text: text, pos: start, value: segments });
        }
        continue;
      }
      throw new FilterError("unexpected character '" + c + "'", source, i);
    }
    tokens.push({ kind: "end", text: "", pos: n });
    return tokens;
  }

  function Parser(source) {
    this.source = source;
    this.tokens = tokenize(source);
    this.i = 0;
  }
  Parser.prototype.tok = function () { return this.tokens[this.i]; };
  Parser.prototype.error = function (message, token) { return new FilterError(message, this.source, (token || this.tok()).pos); };
  Parser.prototype.describe = function (t) { return t.kind === "end" ? "the end of the filter" : "'" + t.text + "'"; };
  Parser.prototype.keyword = function () {
    var t = this.tok();
    if (t.kind !== "keyword") return false;
    for (var k = 0; k < arguments.length; k++) if (t.value === arguments[k]) return true;
    return false;
  };
  Parser.prototype.takeKeyword = function (name) {
    if (!this.keyword(name)) throw this.error("expected " + name + ", found " + this.describe(this.tok()));
    this.i += 1;
  };
  Parser.prototype.parseOr = function () {
    var terms = [this.parseAnd()];
    while (this.keyword("OR")) { this.i += 1; terms.push(this.parseAnd()); }
    return flatten("or", terms);
  };
  Parser.prototype.parseAnd = function () {
    var terms = [this.parseNot()];
    while (this.keyword("AND")) { this.i += 1; terms.push(this.parseNot()); }
    return flatten("and", terms);
  };
  Parser.prototype.parseNot = function () {
    if (this.keyword("NOT")) { this.i += 1; return { type: "not", term: this.parseNot() }; }
    if (this.tok().kind === "(") {
      var opening = this.tok();
      this.i += 1;
      if (this.tok().kind === ")") throw this.error("empty parentheses: put a condition inside");
      var inner = this.parseOr();
      if (this.tok().kind !== ")") {
        if (this.tok().kind === "end") throw this.error("unclosed '(': add ')'", opening);
        throw this.error("expected ')' or AND/OR, found " + this.describe(this.tok()));
      }
      this.i += 1;
      return inner;
    }
    return this.parseComparison();
  };
  Parser.prototype.parseComparison = function () {
    var fieldToken = this.tok();
    var field = this.parseField();
    var opToken = this.tok();
    var valueToken, value;
    if (opToken.kind === "op") {
      this.i += 1;
      valueToken = this.tok();
      value = this.parseValue();
      return this.check({ type: "cmp", field: field, op: opToken.text, value: value }, opToken, valueToken);
    }
    if (this.keyword("IS")) {
      this.i += 1;
      var neg = this.keyword("NOT");
      if (neg) this.i += 1;
      this.takeKeyword("NULL");
      return { type: "cmp", field: field, op: neg ? "IS NOT NULL" : "IS NULL", value: null };
    }
    var negated = this.keyword("NOT");
    if (negated) {
      this.i += 1;
      if (!this.keyword("IN", "LIKE", "ILIKE")) throw this.error("expected IN, LIKE or ILIKE after NOT, found " + this.describe(this.tok()));
    }
    if (this.keyword("LIKE", "ILIKE")) {
      var name = this.tok().value;
      this.i += 1;
      valueToken = this.tok();
      value = this.parseValue();
      return this.check({ type: "cmp", field: field, op: negated ? "NOT " + name : name, value: value }, opToken, valueToken);
    }
    if (this.keyword("IN")) {
      this.i += 1;
      valueToken = this.tok();
      var values = this.parseList();
      return this.check({ type: "cmp", field: field, op: negated ? "NOT IN" : "IN", value: values }, opToken, valueToken);
    }
    if (opToken.kind === "end") throw this.error("expected a comparison after '" + fieldToken.text + "', e.g. " + fieldToken.text + " = 'value'");
    throw this.error("expected a comparison operator (= != < <= > >= LIKE ILIKE IN IS), found " + this.describe(opToken));
  };
  Parser.prototype.parseField = function () {
    var t = this.tok();
    if (t.kind !== "path") {
      if (t.kind === "end") throw this.error("expected a condition, e.g. metrics.acc > 0.9");
      if (t.kind === "keyword") throw this.error("expected a field name, found the keyword " + t.text);
      throw this.error("expected a field name such as metrics.acc or params.lr, found " + this.describe(t));
    }
    this.i += 1;
    return resolveField(t, this.source);
  };
  Parser.prototype.parseValue = function () {
    var t = this.tok();
    if (t.kind === "string") { this.i += 1; return { v: t.value, str: true }; }
    if (t.kind === "path" && t.value.length === 1 && t.value[0][1] === '"') { this.i += 1; return { v: t.value[0][0], str: true }; }
    if (t.kind === "number") { this.i += 1; return { v: t.value, str: false, integer: t.integer }; }
    if (t.kind === "end") throw this.error("expected a value: a 'quoted string' or a number");
    if (t.kind === "path") throw this.error("expected a value, found '" + t.text + "': put text in single quotes, e.g. '" + t.text + "'");
    throw this.error("expected a value: a 'quoted string' or a number, found " + this.describe(t));
  };
  Parser.prototype.parseList = function () {
    if (this.tok().kind !== "(") throw this.error("expected '(' to start the list after IN, found " + this.describe(this.tok()));
    this.i += 1;
    if (this.tok().kind === ")") throw this.error("empty list: IN needs at least one value");
    var values = [this.parseValue()];
    while (this.tok().kind === ",") { this.i += 1; values.push(this.parseValue()); }
    if (this.tok().kind !== ")") throw this.error("expected ',' or ')' in the list, found " + this.describe(this.tok()));
    this.i += 1;
    return values;
  };
  Parser.prototype.check = function (cmp, opToken, valueToken) {
    var f = cmp.field;
    var values = Array.isArray(cmp.value) ? cmp.value : [cmp.value];
    var numeric = f.kind === "metric" || (f.kind === "attribute" && NUMERIC_ATTRIBUTES.indexOf(f.key) >= 0);
    var label = f.kind !== "attribute" ? PREFIX_OF_KIND[f.kind] + "." + f.key : f.key;
    if (PATTERN_OPS.indexOf(cmp.op) >= 0) {
      if (numeric) throw this.error(cmp.op + " matches text, but " + label + " is a number; compare it with = != < <= > >=", opToken);
      if (!cmp.value.str) throw this.error(cmp.op + " needs a 'quoted pattern' (% matches any text, _ one character)", valueToken);
    } else if (numeric) {
      if (values.some(function (v) { return v.str; })) throw this.error(label + " is a number: compare it with a number, without quotes", valueToken);
    } else if (f.kind === "attribute" && values.some(function (v) { return !v.str; })) {
      throw this.error("attribute " + label + " is text: put the value in single quotes", valueToken);
    }
    return cmp;
  };

  function resolveField(token, source) {
    var segments = token.value;
    var kind, key;
    if (segments.length === 1) {
      kind = "attribute";
      key = segments[0][0];
    } else {
      var prefix = segments[0][0];
      kind = Object.prototype.hasOwnProperty.call(PREFIXES, prefix.toLowerCase()) ? PREFIXES[prefix.toLowerCase()] : null;
      if (!kind) throw new FilterError("unknown prefix '" + prefix + "': use one of attributes., metrics., params., tags.", source, token.pos);
      key = segments.slice(1).map(function (s) { return s[0]; }).join(".");
    }
    if (!key) throw new FilterError("empty name: put the key after the prefix, e.g. metrics.acc", source, token.pos);
    if (kind === "attribute") {
      if (Object.prototype.hasOwnProperty.call(ALIASES, key)) key = ALIASES[key];
      if (ATTRIBUTES.indexOf(key) < 0) {
        var hint = segments.length === 1 ? " (for a metric, param or tag write metrics." + key + ", params." + key + " or tags." + key + ")" : "";
        throw new FilterError("unknown run attribute '" + key + "'; attributes are " + ATTRIBUTES.join(", ") + hint, source, token.pos);
      }
    }
    return { kind: kind, key: key };
  }

  function flatten(type, terms) {
    if (terms.length === 1) return terms[0];
    var flat = [];
    terms.forEach(function (t) { if (t.type === type) flat.push.apply(flat, t.terms); else flat.push(t); });
    return { type: type, terms: flat };
  }

  function parse(source) {
    if (!source || !source.trim()) return null;
    var p = new Parser(source);
    var expr = p.parseOr();
    if (p.tok().kind !== "end") {
      var t = p.tok();
      if (t.kind === ")") throw p.error("unmatched ')'");
      throw p.error("expected AND, OR or the end of the filter, found " + p.describe(t));
    }
    return expr;
  }

  // -- evaluation ------------------------------------------------------------------------
  function likeRegex(pattern, ignoreCase) {
    var out = "";
    for (var k = 0; k < pattern.length; k++) {
      var ch = pattern[k];
      if (ch === "%") out += "[\\s\\S]*";
      else if (ch === "_") out += "[\\s\\S]";
      else out += ch.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&");
    }
    return new RegExp("^" + out + "$", ignoreCase ? "iu" : "u");
  }

  // gitrun.search.evaluate.as_number: the whole text is a decimal number, inf, infinity or nan.
  var NUMBER_TEXT = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;

  function asNumber(text) {
    if (!NUMBER_TEXT.test(text)) return undefined;
    var body = text.replace(/^[+-]/, "").toLowerCase();
    var sign = text[0] === "-" ? -1 : 1;
    if (body === "nan") return NaN;
    if (body === "inf" || body === "infinity") return sign * Infinity;
    return parseFloat(text);
  }

  // Python's repr() of a number literal, which gitrun compares with params that are not numbers.
  function pyRepr(value, integer) {
    if (integer) return String(value);
    if (isNaN(value)) return "nan";
    if (!isFinite(value)) return value > 0 ? "inf" : "-inf";
    var m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(value.toExponential());
    var sign = m[1], digits = m[2] + (m[3] || ""), exp = parseInt(m[4], 10);
    if (exp < -4 || exp >= 16) {
      var mantissa = digits[0] + (digits.length > 1 ? "." + digits.slice(1) : "");
      return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }
    var point = exp + 1;
    var text;
    if (point <= 0) text = "0." + "0".repeat(-point) + digits;
    else if (point >= digits.length) text = digits + "0".repeat(point - digits.length) + ".0";
    else text = digits.slice(0, point) + "." + digits.slice(point);
    return sign + text;
  }

  function compareValues(op, left, right) {
    switch (op) {
      case "=": return left === right;
      case "!=": return left !== right;
      case "<": return left < right;
      case "<=": return left <= right;
      case ">": return left > right;
      case ">=": return left >= right;
    }
    return false;
  }

  // gitrun.search.evaluate._text_compare: params, tags and text attributes against one literal.
  function textCompare(op, literal, actual) {
    if (literal.str) {
      if (op === "=" || op === "!=") return compareValues(op, actual, literal.v);
      var number = asNumber(literal.v);
      if (number === undefined) return compareValues(op, actual, literal.v);
      var x = asNumber(actual);
      return x === undefined ? compareValues(op, actual, literal.v) : compareValues(op, x, number);
    }
    var y = asNumber(actual);
    return y === undefined ? compareValues(op, actual, pyRepr(literal.v, literal.integer)) : compareValues(op, y, literal.v);
  }

  function read(run, field) {
    if (field.kind === "metric") return run.metric(field.key);
    if (field.kind === "param") return run.param(field.key);
    if (field.kind === "tag") return run.tag(field.key);
    return run.attr(field.key);
  }

  function evalCmp(cmp, run) {
    var actual = read(run, cmp.field);
    var missing = actual === undefined || actual === null;
    if (cmp.op === "IS NULL") return missing;
    if (cmp.op === "IS NOT NULL") return !missing;
    if (missing) return false;
    var numeric = cmp.field.kind === "metric" || (cmp.field.kind === "attribute" && NUMERIC_ATTRIBUTES.indexOf(cmp.field.key) >= 0);
    if (cmp.op === "LIKE" || cmp.op === "ILIKE" || cmp.op === "NOT LIKE" || cmp.op === "NOT ILIKE") {
      var re = cmp._re || (cmp._re = likeRegex(cmp.value.v, cmp.op.indexOf("ILIKE") >= 0));
      var hit = re.test(String(actual));
      return cmp.op.indexOf("NOT") === 0 ? !hit : hit;
    }
    if (cmp.op === "IN" || cmp.op === "NOT IN") {
      var any = cmp.value.some(function (literal) {
        return numeric ? Number(actual) === literal.v : textCompare("=", literal, String(actual));
      });
      return cmp.op === "IN" ? any : !any;
    }
    if (numeric) return compareValues(cmp.op, Number(actual), cmp.value.v);
    return textCompare(cmp.op, cmp.value, String(actual));
  }

  function evaluate(expr, run) {
    if (expr === null) return true;
    switch (expr.type) {
      case "and": return expr.terms.every(function (t) { return evaluate(t, run); });
      case "or": return expr.terms.some(function (t) { return evaluate(t, run); });
      case "not": return !evaluate(expr.term, run);
      default: return evalCmp(expr, run);
    }
  }

  function compile(source) {
    var expr = parse(source);
    return function (run) { return evaluate(expr, run); };
  }

  global.GitrunFilter = { compile: compile, parse: parse, tokenize: tokenize, evaluate: evaluate, FilterError: FilterError };
})(typeof window !== "undefined" ? window : this);
