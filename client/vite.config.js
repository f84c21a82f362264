import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The built files go to client/dist; the Flask server serves them at "/" and falls back to
// index.html for the client-side routes. In development `npm run dev` proxies /api to Flask.
export default defineConfig({
  plugins: [react()],
  base: '/',
  server: {
    port: 3000,
    proxy: {
      '/api': {
        target: 'http://127.0.0.1:5000',
        changeOrigin: false,
      },
    },
  },
  preview: { port: 3000 },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // React + ReactDOM are ~190 kB of the ~300 kB bundle (~91 kB gzipped).
    chunkSizeWarningLimit: 400,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.js'],
    include: ['src/**/*.test.{js,jsx}'],
    restoreMocks: true,
  },
})
