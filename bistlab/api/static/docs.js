// The API's interactive docs: Swagger UI (the swagger-ui-bundle package's files, served by this
// server under /swagger-ui/) with try-it-out, on /openapi-3.0.json (/openapi.json written down as
// OpenAPI 3.0, the newest version that Swagger UI 4 reads). Nothing is loaded from elsewhere:
// the validator badge, which would call validator.swagger.io, is off.
"use strict";
(function () {
  function note(text) {
    var el = document.getElementById("docs-note");
    el.textContent = text;
    el.hidden = false;
  }

  function start() {
    if (typeof window.SwaggerUIBundle !== "function") {
      document.getElementById("swagger-ui").textContent = "";
      note("Swagger UI's files are missing on the server (pip install swagger-ui-bundle); the endpoints are described in /openapi.json.");
      return;
    }
    window.ui = window.SwaggerUIBundle({
      url: "/openapi-3.0.json",
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      validatorUrl: null,
      displayRequestDuration: true,
      defaultModelsExpandDepth: 0,
      tryItOutEnabled: false,
      presets: [window.SwaggerUIBundle.presets.apis],
      requestInterceptor: function (request) { request.credentials = "same-origin"; return request; }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
