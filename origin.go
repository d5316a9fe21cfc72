package wssync

import (
	"log/slog"
	"net/http"
)

// loggedOriginCheck wraps the upgrade's origin check so that a refusal, which the client
// sees only as an HTTP 403 (and a browser retries forever), is logged with the origin, the
// host it was compared with and the option that would allow it.
func loggedOriginCheck(cfg *config) func(*http.Request) bool {
	check, custom := cfg.originChecker(), cfg.checkOrigin != nil
	log := cfg.logger
	return func(r *http.Request) bool {
		if check(r) {
			return true
		}
		if custom {
			log.Warn("wssync: cross-origin upgrade refused (403) by the WithCheckOrigin function",
				"origin", r.Header.Get("Origin"), "host", r.Host, "remote", r.RemoteAddr)
			return false
		}
		log.Warn("wssync: cross-origin upgrade refused (403): allow the origin with WithAllowedOrigins(origin), "+
			"or serve the page and the socket from one origin (a dev server's proxy, see docs/react-guide.md)",
			"origin", r.Header.Get("Origin"), "host", r.Host, "remote", r.RemoteAddr, slog.Any("allowed", cfg.origins))
		return false
	}
}
