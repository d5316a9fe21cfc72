package wssync

// PendingHandshakes returns how many of m's connections wait for their `_USER_SESSION`
// answer. For tests of ManagerLimits.MaxPendingHandshakes.
func PendingHandshakes(m *Manager) int { return m.pendingHandshakes() }
