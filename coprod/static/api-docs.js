// Starts Swagger UI on /api/v1/docs (coprod/api/docs.py). A file of its own, not an inline
// script, so that the page stays within Coprod's Content-Security-Policy (script-src 'self').
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
  root.textContent = "";
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,  // no badge fetched from another site
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    persistAuthorization: false,
  });
})();
