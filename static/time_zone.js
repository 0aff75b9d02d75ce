// Tells the server the browser's time zone (routes/viewer_time.ts): dates are shown in it from
// the next page on. A cookie, not a setting: each browser shows its own zone.
(() => {
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return;
    const cookie = `carteiro_tz=${encodeURIComponent(zone)}`;
    if (document.cookie.split("; ").includes(cookie)) return;
    const secure = location.protocol === "https:" ? "; secure" : "";
    document.cookie = `${cookie}; path=/; max-age=31536000; samesite=lax${secure}`;
  } catch {
    // A browser without Intl time zones: the server's zone.
  }
})();
