package wssync

// Delivery says what became of an addressed message (Manager.Send, Publisher.Send) on the
// node that sent it, and how many other nodes it was handed to. Only a frame taken into a
// live connection's send queue counts as Delivered: "queued" for a disconnected session is
// not "delivered", and a node that got the message through the bus reports nothing back.
type Delivery struct {
	// Delivered counts the live connections that took the frame into their send queue.
	// It reaches the client unless the connection closes first.
	Delivered int `json:"delivered"`

	// Queued counts the disconnected sessions that keep the message for their next
	// connection to this node (WithEventBacklog). A session that expires, or moves to
	// another node, before it reconnects never gets it.
	Queued int `json:"queued"`

	// NotConnected counts the disconnected sessions that could not keep it: the message
	// is transient, or the backlog is off or full.
	NotConnected int `json:"notConnected"`

	// TooSlow counts the live connections whose send queue could not take the frame:
	// they are closed as slow consumers (4001), and the message is lost for them.
	TooSlow int `json:"tooSlow"`

	// Skipped counts the sessions the target named that do not have the key of an
	// exposed action (NewAction), which they could not handle.
	Skipped int `json:"skipped"`

	// Duplicate is set when this node had delivered a message with the same ID already:
	// it did nothing with it here (the bus still carries it, for nodes that have not).
	Duplicate bool `json:"duplicate,omitempty"`

	// Nodes counts the other nodes (Managers) the event bus handed the message to. Each
	// delivers it to its own sessions; their counts are not in the fields above.
	Nodes int `json:"nodes"`
}

// Sessions returns how many sessions of this node the target named and took the message
// (delivered or queued).
func (d Delivery) Sessions() int { return d.Delivered + d.Queued }

// add counts the outcome of one session.
func (d *Delivery) add(o deliveryOutcome) {
	switch o {
	case outcomeDelivered:
		d.Delivered++
	case outcomeQueued:
		d.Queued++
	case outcomeNotConnected:
		d.NotConnected++
	case outcomeTooSlow:
		d.TooSlow++
	case outcomeSkipped:
		d.Skipped++
	}
}

// deliveryOutcome is what became of a message for one session.
type deliveryOutcome uint8

const (
	outcomeDelivered deliveryOutcome = iota
	outcomeQueued
	outcomeNotConnected
	outcomeTooSlow
	outcomeSkipped
)
