// The endpoint list of bistlab's API, drawn from /openapi.json (an offline stand-in for Swagger UI).
"use strict";
(function () {
  var spec;
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) { e.textContent = text; } if (cls) { e.className = cls; } return e; }
  function resolve(schema) {
    if (schema && schema.$ref) { return spec.components.schemas[schema.$ref.split("/").pop()]; }
    return schema || {};
  }
  function typeOf(s) {
    s = s || {};
    if (s.$ref) { return s.$ref.split("/").pop(); }
    if (s.anyOf) { return s.anyOf.map(typeOf).join(" | "); }
    if (s.type === "array") { return typeOf(s.items) + "[]"; }
    return s.type || "any";
  }
  function table(head, rows) {
    var t = el("table"), tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", h)); });
    t.appendChild(el("thead")).appendChild(tr);
    var body = t.appendChild(el("tbody"));
    rows.forEach(function (r) { var row = el("tr"); r.forEach(function (c) { row.appendChild(el("td", c)); }); body.appendChild(row); });
    return t;
  }
  function fields(schema) {
    var s = resolve(schema), props = s.properties || {};
    return table(["field", "type", "default", "description"], Object.keys(props).map(function (k) {
      var p = props[k];
      return [k, typeOf(p), p["default"] === undefined ? "" : JSON.stringify(p["default"]), p.description || ""];
    }));
  }
  function example(schema) {
    var s = resolve(schema);
    return s.examples && s.examples.length ? el("pre", JSON.stringify(s.examples[0], null, 2)) : null;
  }
  function endpoint(path, method, op) {
    var box = el("section");
    box.id = (method + path).replace(/[^a-z0-9]+/gi, "-");
    box.appendChild(el("h2", method.toUpperCase() + " " + path + " — " + (op.summary || "")));
    box.appendChild(el("p", op.description || ""));
    if (op.parameters && op.parameters.length) {
      box.appendChild(el("h3", "query parameters"));
      box.appendChild(table(["name", "type", "description"], op.parameters.map(function (p) { return [p.name, typeOf(p.schema), p.description || ""]; })));
    }
    var req = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    if (req) {
      box.appendChild(el("h3", "request body (JSON" + (op.requestBody.required ? "" : ", optional") + "): " + typeOf(req.schema)));
      box.appendChild(fields(req.schema));
      var ex = example(req.schema); if (ex) { box.appendChild(ex); }
    }
    box.appendChild(el("h3", "responses"));
    Object.keys(op.responses || {}).forEach(function (code) {
      var r = op.responses[code], c = r.content && r.content["application/json"];
      box.appendChild(el("p", code + " " + (r.description || "") + (c ? " — " + typeOf(c.schema) : "")));
      if (c && code[0] === "2") { box.appendChild(fields(c.schema)); var rex = example(c.schema); if (rex) { box.appendChild(rex); } }
    });
    return box;
  }
  fetch("/openapi.json", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
    spec = s;
    document.getElementById("title").textContent = s.info.title + " " + s.info.version;
    document.getElementById("description").textContent = s.info.description || "";
    var root = document.getElementById("endpoints");
    root.textContent = "";
    Object.keys(s.paths).forEach(function (path) {
      Object.keys(s.paths[path]).forEach(function (method) { root.appendChild(endpoint(path, method, s.paths[path][method])); });
    });
  }).catch(function (err) { document.getElementById("endpoints").textContent = "could not read /openapi.json: " + err; });
})();
