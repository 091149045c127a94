import { defineConfig } from "vite";

// The app loads ui/dist from disk (Tauri's frontendDist): no dev server needed.
export default defineConfig({
  clearScreen: false,
  build: { target: "es2021", outDir: "dist", emptyOutDir: true },
  test: { environment: "happy-dom", globals: true },
});
