/**
 * Registers the service worker (public/sw.js) so browsers offer to install the app. Only in a
 * production build: in development Vite serves modules the worker must not cache.
 */
export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
      // Not installable on this browser or origin (e.g. plain http on a LAN address): the app works the same.
    })
  })
}
