import { createClient } from "@authhost/client";
import { AuthProvider } from "@authhost/react";
import { QueryClient } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";

// Cookie mode on the page's own origin: the session cookie is HttpOnly and
// the browser sends it; the app never sees a token.
const client = createClient();
const queryClient = new QueryClient();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <AuthProvider client={client} queryClient={queryClient}>
      <App />
    </AuthProvider>
  </StrictMode>,
);
