import { defineConfig } from "vite";

// The app talks to authhost on its own origin: the dev and preview servers
// forward /api to authhost (AUTHHOST_URL, default http://localhost:8080), as
// a reverse proxy in front of both would in production. authhost sends no
// CORS headers, so the API must be same-origin to the page.
const target = process.env.AUTHHOST_URL ?? "http://localhost:8080";

const api = {
  "/api": {
    target,
    changeOrigin: true,
    // The browser's Origin names this server; authhost's CSRF guard accepts
    // its own origin (or security.allowed_redirect_origins), so the proxy
    // presents itself as authhost's origin.
    configure: (proxy: { on: (ev: "proxyReq", fn: (req: { getHeader(n: string): unknown; setHeader(n: string, v: string): void }) => void) => void }) => {
      proxy.on("proxyReq", (req) => {
        if (req.getHeader("origin")) req.setHeader("origin", new URL(target).origin);
      });
    },
  },
};

export default defineConfig({
  // @authhost/* are linked from clients/js (file: dependencies): their
  // imports of React and React Query must resolve to this app's copies.
  resolve: { dedupe: ["react", "react-dom", "@tanstack/react-query", "@authhost/client"] },
  esbuild: { jsx: "automatic" },
  build: {
    rollupOptions: {
      // React Query marks its modules "use client" (for React Server
      // Components); a client-only bundle ignores that, and so may Rollup.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
  server: { port: 5173, strictPort: true, proxy: api },
  preview: { port: 4173, strictPort: true, proxy: api },
});
