package wssync

// EventOption configures a custom event handler.
type EventOption func(*eventConfig)

type eventConfig struct{ override bool }

// Override lets On replace an existing handler for the event instead of failing.
func Override() EventOption { return func(c *eventConfig) { c.override = true } }
