// Starts Swagger UI on /docs (a file, not an inline script, so the page's
// Content-Security-Policy can forbid inline scripts). The document's URL comes from the page.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,  // the online validator would send the document to a third party
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
