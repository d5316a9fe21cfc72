package wssync

// PendingHandshakes returns how many of m's connections wait for their `_USER_SESSION`
// answer. For tests of ManagerLimits.MaxPendingHandshakes.
func PendingHandshakes(m *Manager) int { return m.pendingHandshakes() }

// UserObjects returns how many per-user objects m holds, and how many it has freed.
func UserObjects(m *Manager) (held int, freed int64) { return m.users.count(), m.users.freed.Load() }

// UserObjectHolders returns how many sessions hold user's object under key.
func UserObjectHolders(m *Manager, user, key string) int {
	m.users.mu.Lock()
	defer m.users.mu.Unlock()
	if e := m.users.byUser[user][key]; e != nil {
		return len(e.holders)
	}
	return 0
}
