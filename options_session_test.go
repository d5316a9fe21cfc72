package wssync

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"
)

func TestWithLimits(t *testing.T) {
	def := defaultConfig()
	t.Run("zero keeps every default", func(t *testing.T) {
		c := newSessionConfig([]SessionOption{WithLimits(Limits{})})
		if c.readLimit != def.readLimit || c.pingInterval != def.pingInterval || c.pongTimeout != def.pongTimeout ||
			c.writeTimeout != def.writeTimeout || c.maxQueuedFrames != def.maxQueuedFrames ||
			c.maxQueuedBytes != def.maxQueuedBytes || c.maxBadFrames != def.maxBadFrames ||
			c.ratePerSecond != def.ratePerSecond || c.rateBurst != def.rateBurst ||
			c.resyncPerSecond != def.resyncPerSecond || c.resyncBurst != def.resyncBurst {
			t.Errorf("Limits{} changed a setting: %+v", c)
		}
	})
	t.Run("fields set their settings", func(t *testing.T) {
		c := newSessionConfig([]SessionOption{WithLimits(Limits{
			ReadLimit: 1, PingInterval: 2, PongTimeout: 3, WriteTimeout: 4, MaxQueuedFrames: 5,
			MaxQueuedBytes: 6, MaxBadFrames: 7, RatePerSecond: 8, RateBurst: 9, ResyncPerSecond: 10, ResyncBurst: 11,
		})})
		got := []float64{float64(c.readLimit), float64(c.pingInterval), float64(c.pongTimeout), float64(c.writeTimeout),
			float64(c.maxQueuedFrames), float64(c.maxQueuedBytes), float64(c.maxBadFrames), c.ratePerSecond,
			float64(c.rateBurst), c.resyncPerSecond, float64(c.resyncBurst)}
		for i, v := range got {
			if v != float64(i+1) {
				t.Errorf("setting %d = %v, want %d", i, v, i+1)
			}
		}
	})
	t.Run("later options change only their fields", func(t *testing.T) {
		c := newSessionConfig([]SessionOption{
			WithLimits(Limits{ReadLimit: 100, WriteTimeout: time.Second}),
			WithLimits(Limits{ReadLimit: 200}),
		})
		if c.readLimit != 200 || c.writeTimeout != time.Second {
			t.Errorf("readLimit %d, writeTimeout %v", c.readLimit, c.writeTimeout)
		}
	})
	t.Run("negative rates turn the limits off", func(t *testing.T) {
		c := newSessionConfig([]SessionOption{WithLimits(Limits{RatePerSecond: -1, ResyncPerSecond: -1})})
		if c.ratePerSecond != 0 || c.resyncPerSecond != 0 || c.rateBurst != def.rateBurst {
			t.Errorf("rate %v, resync %v, burst %d", c.ratePerSecond, c.resyncPerSecond, c.rateBurst)
		}
		b := newTokenBucket(c.ratePerSecond, c.rateBurst)
		now := time.Now()
		for i := range c.rateBurst + 10 {
			if !b.allow(now) {
				t.Fatalf("a turned-off rate limit refused frame %d", i)
			}
		}
	})
	t.Run("negative sizes keep the defaults", func(t *testing.T) {
		c := newSessionConfig([]SessionOption{WithLimits(Limits{ReadLimit: -5, MaxBadFrames: -1})})
		if c.readLimit != def.readLimit || c.maxBadFrames != def.maxBadFrames {
			t.Errorf("readLimit %d, maxBadFrames %d", c.readLimit, c.maxBadFrames)
		}
	})
}

func TestWithLogger(t *testing.T) {
	l := slog.New(slog.DiscardHandler)
	if c := newSessionConfig([]SessionOption{WithLogger(l)}); c.logger != l {
		t.Error("WithLogger did not set the logger")
	}
	if c := newSessionConfig([]SessionOption{WithLogger(nil)}); c.logger == nil {
		t.Error("WithLogger(nil) left no logger")
	}
}

func TestOriginChecker(t *testing.T) {
	c := newSessionConfig([]SessionOption{WithAllowedOrigins("https://app.example.com")})
	check := c.originChecker()
	for _, tt := range []struct {
		origin string
		want   bool
	}{
		{"", true},
		{"http://example.org", true}, // same host
		{"https://APP.example.com", true},
		{"https://evil.example.com", false},
	} {
		r := httptest.NewRequest("GET", "http://example.org/ws", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := check(r); got != tt.want {
			t.Errorf("origin %q: %v, want %v", tt.origin, got, tt.want)
		}
	}
}
